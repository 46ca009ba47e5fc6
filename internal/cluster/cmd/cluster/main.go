// Command cluster starts, stops and reports the local Kubernetes cluster
// of package cluster (with a real node, or KWOK's with --kwok) for people
// and the demo; scripts/cluster runs it. Tests start their own clusters
// with package clustertest.
//
//	cluster [--dir DIR] [--kwok] start|stop|status|env
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cluster: %v\n", err)
		if errors.As(err, new(usageError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
