package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/driftless-dev/driftless/internal/cluster"
)

const usage = `usage: cluster [--dir DIR] [--kwok] start|stop|status|env
       cluster [--dir DIR] stand-in IMAGE PROGRAM [ARG...]

  start   start the control plane and a real node in DIR (a no-op if it
          is running there); with --kwok, KWOK's simulated node instead
  stop    kill every process of the control plane in DIR
  status  print the API server, kubeconfig and processes; exit 1 if stopped
  env     print the shell line that points kubectl at it:
          eval "$(scripts/cluster env)"
  stand-in
          serve the public IMAGE (e.g. redis:7.2.5), which the real node
          cannot pull, from the cluster's registry: this host's PROGRAM
          (e.g. redis-server) with its libraries, run with ARGs first

DIR defaults to $DRIFTLESS_CLUSTER_DIR, else
${DRIFTLESS_CACHE:-${XDG_CACHE_HOME:-~/.cache}/driftless}/cluster.
`

// usageError is a command line that cannot run.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("cluster", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	dir := flags.String("dir", defaultDir(getenv), "the cluster's directory")
	kwok := flags.Bool("kwok", false, "simulate the node with KWOK")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return nil
		}
		return usageError{fmt.Sprintf("%v\n%s", err, usage)}
	}
	if flags.NArg() != 1 && !(flags.Arg(0) == "stand-in" && flags.NArg() >= 3) {
		return usageError{usage}
	}
	if *dir == "" {
		return usageError{"no directory for the cluster: set --dir, $DRIFTLESS_CLUSTER_DIR or $HOME"}
	}
	switch cmd := flags.Arg(0); cmd {
	case "start":
		return start(ctx, *dir, !*kwok, stderr)
	case "stop":
		return stop(*dir, stderr)
	case "status":
		return status(ctx, *dir, stdout)
	case "env":
		fmt.Fprintf(stdout, "export KUBECONFIG=%s\n", filepath.Join(*dir, "kubeconfig"))
		return nil
	case "stand-in":
		c, err := cluster.Open(*dir)
		if err != nil {
			return err
		}
		ref, err := c.PushStandIn(ctx, flags.Arg(1), flags.Arg(2), flags.Args()[3:]...)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "cluster: %s is served as %s\n", flags.Arg(1), ref)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q; valid: start, stop, status, env, stand-in\n%s", cmd, usage)}
	}
}

func defaultDir(getenv func(string) string) string {
	if dir := getenv("DRIFTLESS_CLUSTER_DIR"); dir != "" {
		return dir
	}
	if cache := getenv("DRIFTLESS_CACHE"); cache != "" {
		return filepath.Join(cache, "cluster")
	}
	if xdg := getenv("XDG_CACHE_HOME"); xdg != "" {
		return filepath.Join(xdg, "driftless", "cluster")
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".cache", "driftless", "cluster")
	}
	return ""
}

func start(ctx context.Context, dir string, realNode bool, stderr io.Writer) error {
	if c, err := cluster.Open(dir); err == nil {
		if c.Running() {
			if real := c.NodeName() == cluster.RealNodeName; real != realNode {
				return fmt.Errorf("a cluster with node %s is running in %s; stop it first (scripts/cluster stop)", c.NodeName(), dir)
			}
			fmt.Fprintf(stderr, "cluster: already running in %s (%s); nothing to do\n", dir, c.RESTConfig().Host)
			return nil
		}
		// What is left of a cluster that died or was half started.
		if err := c.Stop(); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	begin := time.Now()
	opts := []cluster.Option{cluster.WithDir(dir), cluster.WithDetach(), cluster.WithProgress(stderr)}
	if realNode {
		opts = append(opts, cluster.WithRealNode())
	}
	c, err := cluster.Start(ctx, opts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "cluster: started in %.1fs; logs in %s\ncluster: use it with: eval \"$(scripts/cluster env)\"\n",
		time.Since(begin).Seconds(), filepath.Join(c.Dir(), "logs"))
	return nil
}

func stop(dir string, stderr io.Writer) error {
	c, err := cluster.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "cluster: no cluster in %s; nothing to do\n", dir)
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.Stop(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "cluster: stopped; logs in %s\n", filepath.Join(dir, "logs"))
	return nil
}

func status(ctx context.Context, dir string, stdout io.Writer) error {
	c, err := cluster.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no cluster in %s: scripts/cluster start", dir)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "server:     %s\nkubeconfig: %s\n", c.RESTConfig().Host, c.Kubeconfig())
	var total int64
	for _, p := range c.Processes() {
		rss := p.RSS()
		total += rss
		state := "stopped"
		if p.Running() {
			state = "running"
		}
		fmt.Fprintf(stdout, "%-24s pid %-8d %-8s %4d MiB  %s\n", p.Name, p.PID, state, rss>>20, p.Log)
	}
	fmt.Fprintf(stdout, "%-24s %4d MiB resident in all\n", "", total>>20)
	if !c.Running() {
		return errors.New("stopped: scripts/cluster start")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.Ready(ctx)
}
