// Command pause is the sandbox container of every pod on the local
// cluster's real node (containerd's sandbox_image): it holds the pod's
// namespaces while the pod lives, reaps the children it inherits as the
// pod's first process, and exits at once on SIGTERM or SIGINT. It is
// built static and pushed to the cluster's own registry by package
// cluster, since nothing can be pulled from the internet.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		// One SIGCHLD may stand for several children.
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
