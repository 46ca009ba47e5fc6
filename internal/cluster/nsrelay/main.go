// Command nsrelay accepts TCP connections in one network namespace and
// relays each to an address in the network namespace it was started in.
// The local cluster's real node runs kube-proxy in the node's network
// namespace, where its iptables rules (and the accounting objects they
// name) belong; nsrelay lets it reach the API server on the host's
// 127.0.0.1 through 127.0.0.1 of the node's namespace, so neither end ever
// listens on or dials anything else.
//
//	nsrelay NETNS-FILE LISTEN-ADDRESS TARGET-ADDRESS
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: nsrelay NETNS-FILE LISTEN-ADDRESS TARGET-ADDRESS")
		os.Exit(2)
	}
	netns, listen, target := os.Args[1], os.Args[2], os.Args[3]
	l, err := listenIn(netns, listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsrelay: listening on %s in %s: %v\n", listen, netns, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "nsrelay: relaying %s in %s to %s\n", listen, netns, target)
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "nsrelay: %v\n", err)
			os.Exit(1)
		}
		go relay(c, target)
	}
}

// listenIn makes the listening socket on a thread that has entered the
// namespace; the socket stays in it, whichever thread accepts later. The
// thread is never given back to the Go runtime, so no other goroutine
// runs in the wrong namespace.
func listenIn(netns, addr string) (net.Listener, error) {
	type result struct {
		l   net.Listener
		err error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread() // and never unlocked: the thread exits with this goroutine
		f, err := os.Open(netns)
		if err != nil {
			done <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{nil, fmt.Errorf("entering the network namespace: %w", err)}
			return
		}
		l, err := net.Listen("tcp", addr)
		done <- result{l, err}
	}()
	r := <-done
	return r.l, r.err
}

func relay(c net.Conn, target string) {
	defer c.Close()
	t, err := net.Dial("tcp", target)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsrelay: %v\n", err)
		return
	}
	defer t.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		if _, err := io.Copy(dst, src); err != nil && !errors.Is(err, net.ErrClosed) {
			fmt.Fprintf(os.Stderr, "nsrelay: %v\n", err)
		}
		// Half-close, so the other direction can finish.
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}
	go pipe(t, c)
	go pipe(c, t)
	wg.Wait()
}
