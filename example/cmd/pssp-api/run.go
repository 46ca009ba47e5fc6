package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/driftless-dev/driftless/example/internal/portal"
	"github.com/driftless-dev/driftless/example/internal/static"
	"github.com/driftless-dev/driftless/example/internal/subscription"
	"github.com/driftless-dev/driftless/example/internal/worker"
)

const defaultAddr = ":8080"

// shutdownTimeout bounds the graceful shutdown; it stays below Kubernetes'
// default termination grace period of 30s.
const shutdownTimeout = 20 * time.Second

// usageError is a bad command line; main exits 2 for it.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

var roles = []string{"serve", "worker", "version"}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	role := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		role, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("pssp-api "+role, flag.ContinueOnError)
	fs.SetOutput(stderr)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pssp-api [serve|worker|version] [--version]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q: pssp-api takes its settings from the environment", fs.Args())
	}

	b := buildInfo(getenv, version, gitSHA, debug.ReadBuildInfo)
	if *showVersion || role == "version" {
		fmt.Fprintf(stdout, "pssp-api %s (commit %s)\n", b.Version, b.GitSHA)
		return nil
	}
	if role != "serve" && role != "worker" {
		return usagef("unknown role %q: want one of %s", role, strings.Join(roles, ", "))
	}

	var level slog.Level
	if l := getenv("LOG_LEVEL"); l != "" {
		if err := level.UnmarshalText([]byte(l)); err != nil {
			return fmt.Errorf("reading LOG_LEVEL %q: want debug, info, warn or error", l)
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("role", role)

	dir := getenv("PSSP_STATIC_DIR")
	if dir == "" {
		dir = static.DefaultDir
	}
	cfg, err := static.Load(dir)
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	log.Info("static configuration loaded", "dir", dir, "configRevision", cfg.Revision,
		"version", b.Version, "gitSha", b.GitSHA)

	if role == "worker" {
		return work(ctx, cfg, getenv, log)
	}
	return serve(ctx, cfg, b, getenv, log)
}

func serve(ctx context.Context, cfg *static.Config, b portal.Build, getenv func(string) string, log *slog.Logger) error {
	addr := getenv("PSSP_ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	// A nil interface, not a nil *Store, so the handler sees "no store".
	var subs portal.Subscriptions
	if raddr := getenv("REDIS_ADDR"); raddr != "" {
		rdb := subscription.NewClient(raddr)
		defer rdb.Close()
		subs = subscription.New(rdb)
		log.Info("subscriptions enabled", "redis", raddr)
	} else {
		log.Warn("REDIS_ADDR is not set: subscription endpoints answer 503")
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %q: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           portal.NewHandler(cfg, b, subs, log),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-served:
		return fmt.Errorf("serving on %q: %w", addr, err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	log.Info("stopped")
	return nil
}

func work(ctx context.Context, cfg *static.Config, getenv func(string) string, log *slog.Logger) error {
	raddr := getenv("REDIS_ADDR")
	if raddr == "" {
		return errors.New("the worker needs Redis: set REDIS_ADDR to its host:port, for example redis:6379")
	}
	rdb := subscription.NewClient(raddr)
	defer rdb.Close()
	w := &worker.Worker{Queue: subscription.New(rdb), Config: cfg, Log: log}
	return w.Run(ctx)
}

// buildInfo says which build is running: the environment (set by the image
// baker) wins over -ldflags, which wins over what the Go toolchain recorded.
func buildInfo(getenv func(string) string, ldVersion, ldSHA string, read func() (*debug.BuildInfo, bool)) portal.Build {
	b := portal.Build{Version: getenv("PSSP_VERSION"), GitSHA: getenv("PSSP_GIT_SHA")}
	if b.Version == "" {
		b.Version = ldVersion
	}
	if b.GitSHA == "" {
		b.GitSHA = ldSHA
	}
	if b.Version != "" && b.GitSHA != "" {
		return b
	}
	if info, ok := read(); ok {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		if b.GitSHA == "" {
			var rev, modified string
			for _, s := range info.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value
				}
			}
			if rev != "" && modified == "true" {
				rev += "-dirty"
			}
			b.GitSHA = rev
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	if b.GitSHA == "" {
		b.GitSHA = "unknown"
	}
	return b
}
