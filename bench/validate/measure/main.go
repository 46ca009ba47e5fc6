// Command measure runs a program and writes its wall time (ns), peak
// resident set (KiB) and CPU time (user and system, ns), from wait4's
// rusage, to the file its first argument names; it exits with the program's code. bench/validate starts every
// program it measures through it: Linux counts in a process's peak
// resident set the memory of the process that started it, as it was when
// the process was started (Go starts programs with vfork, sharing its
// memory until exec), so the starter must be small. This one imports
// nothing that allocates at start: about 2 MB.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: measure RESULT-FILE PROGRAM [ARG...]")
		os.Exit(125)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(125)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		fmt.Fprintln(os.Stderr, "measure: no rusage for the process on this system")
		os.Exit(125)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if err := os.WriteFile(os.Args[1], fmt.Appendf(nil, "%d %d %d\n", wall.Nanoseconds(), ru.Maxrss, cpu.Nanoseconds()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(125)
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
