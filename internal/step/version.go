package step

import "runtime/debug"

// version is set at build time with
// -ldflags "-X github.com/driftless-dev/driftless/internal/step.version=v1.2.3".
var version string

// Version reports the version of the running binary: the linker-provided
// version, else the module version and VCS revision recorded by the Go
// toolchain, else "devel".
func Version() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}
