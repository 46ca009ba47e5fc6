package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestDefaultDir(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"explicit", map[string]string{"DRIFTLESS_CLUSTER_DIR": "/c", "DRIFTLESS_CACHE": "/d", "HOME": "/h"}, "/c"},
		{"driftless cache", map[string]string{"DRIFTLESS_CACHE": "/d", "XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/d/cluster"},
		{"xdg cache", map[string]string{"XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/x/driftless/cluster"},
		{"home", map[string]string{"HOME": "/h"}, "/h/.cache/driftless/cluster"},
		{"nothing", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := defaultDir(func(k string) string { return tc.env[k] }); got != tc.want {
				t.Errorf("defaultDir() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		args       []string
		wantUsage  bool
		wantStdout string
	}{
		{name: "env", args: []string{"--dir", "/c", "env"}, wantStdout: "export KUBECONFIG=/c/kubeconfig\n"},
		{name: "no command", args: nil, wantUsage: true},
		{name: "unknown command", args: []string{"restart"}, wantUsage: true},
		{name: "two commands", args: []string{"start", "stop"}, wantUsage: true},
		{name: "unknown flag", args: []string{"--bogus", "start"}, wantUsage: true},
		{name: "help", args: []string{"--help"}, wantStdout: usage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			getenv := func(k string) string { return map[string]string{"HOME": "/h"}[k] }
			err := run(context.Background(), tc.args, getenv, &stdout, &stderr)
			if got := errors.As(err, new(usageError)); got != tc.wantUsage {
				t.Fatalf("run(%q) = %v; usage error %t, want %t", tc.args, err, got, tc.wantUsage)
			}
			if !tc.wantUsage && err != nil {
				t.Fatal(err)
			}
			if stdout.String() != tc.wantStdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.wantStdout)
			}
			if tc.wantUsage && !strings.Contains(err.Error(), "usage: cluster") {
				t.Errorf("error %q does not show the usage", err)
			}
		})
	}
}

func TestStatusWithoutCluster(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	dir := t.TempDir()
	err := run(context.Background(), []string{"--dir", dir, "status"}, func(string) string { return "" }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "no cluster in "+dir) {
		t.Errorf("status of an empty directory: %v, want \"no cluster in %s\"", err, dir)
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"--dir", dir, "stop"}, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Errorf("stop of an empty directory: %v", err)
	}
}
