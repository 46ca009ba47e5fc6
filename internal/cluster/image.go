package cluster

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"runtime"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PushProgram pushes an image holding one static program, the file at
// binary, as its entrypoint /<base name> (args after it as its command) to
// the cluster's registry under repository, and returns the image's
// reference by digest, registry/repository@sha256:..., for a pod of the
// real node to run. The image is built from the file alone (fixed times,
// owner root), so the same file always gives the same digest. It needs a
// cluster started WithRealNode.
func (c *Cluster) PushProgram(ctx context.Context, repository, binary string, args ...string) (string, error) {
	if c.registry == "" {
		return "", errors.New("pushing a program: the cluster has no registry (start it WithRealNode)")
	}
	files := []imageFile{{source: binary, target: "/" + path.Base(binary)}}
	img, err := buildImage(files, v1.Config{Entrypoint: []string{"/" + path.Base(binary)}, Cmd: args})
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", binary, err)
	}
	return push(ctx, img, c.registry, repository, "")
}

// PushStandIn serves the public image ref, as a pod names it (for example
// redis:7.2.5, which is docker.io/library/redis:7.2.5), from the cluster's
// registry, where the real node pulls every public registry's images from
// since it has no way out. The stand-in holds the host's program (looked
// up on PATH, say Debian's redis-server) with the shared libraries ldd
// lists at their paths, and runs it with args before the arguments a pod
// gives; it is labelled with what it is. It returns the reference the
// stand-in was pushed as.
func (c *Cluster) PushStandIn(ctx context.Context, ref, program string, args ...string) (string, error) {
	if c.registry == "" {
		return "", errors.New("pushing a stand-in: the cluster has no registry (start it WithRealNode)")
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("pushing a stand-in for %q: %w", ref, err)
	}
	tag, ok := r.(name.Tag)
	if !ok {
		return "", fmt.Errorf("pushing a stand-in for %q: a stand-in needs a tag; a digest names one image only", ref)
	}
	bin, err := exec.LookPath(program)
	if err != nil {
		return "", fmt.Errorf("pushing a stand-in for %s: %w", ref, err)
	}
	libs, err := sharedLibraries(bin)
	if err != nil {
		return "", fmt.Errorf("pushing a stand-in for %s: %w", ref, err)
	}
	files := []imageFile{{source: bin, target: bin}}
	for _, l := range libs {
		files = append(files, imageFile{source: l, target: l})
	}
	version, _ := exec.CommandContext(ctx, bin, "--version").Output()
	img, err := buildImage(files, v1.Config{
		Entrypoint: append([]string{bin}, args...),
		Labels: map[string]string{"org.opencontainers.image.description": fmt.Sprintf(
			"a stand-in for %s on the local cluster, which cannot pull it: this host's %s (%s) and its libraries",
			ref, bin, strings.TrimSpace(string(version)))},
	})
	if err != nil {
		return "", fmt.Errorf("pushing a stand-in for %s: %w", ref, err)
	}
	return push(ctx, img, c.registry, tag.RepositoryStr(), tag.TagStr())
}

// sharedLibraries lists the libraries ldd says bin loads, the dynamic
// loader among them.
func sharedLibraries(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	var libs []string
	for line := range strings.Lines(string(out)) {
		// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
		// "/lib64/ld-linux-x86-64.so.2 (0x...)"; the vDSO has no file.
		f := strings.Fields(line)
		for i, w := range f {
			if strings.HasPrefix(w, "/") && (i == 0 || f[i-1] == "=>") && !slices.Contains(libs, w) {
				libs = append(libs, w)
			}
		}
	}
	return libs, nil
}

// imageFile is a file of the host put into an image.
type imageFile struct{ source, target string }

// buildImage makes a one-layer image for this machine's architecture of
// files (read through links, mode 0755, owner root, time zero), with cfg.
func buildImage(files []imageFile, cfg v1.Config) (v1.Image, error) {
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	for _, f := range files {
		data, err := os.ReadFile(f.source)
		if err != nil {
			return nil, err
		}
		hdr := &tar.Header{Name: strings.TrimPrefix(f.target, "/"), Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config = cfg
	return mutate.ConfigFile(img, cf)
}

// push writes img to host/repository, by digest, and tagged if tag is not
// empty, and returns its reference (by digest, or the tag).
func push(ctx context.Context, img v1.Image, host, repository, tag string) (string, error) {
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	var ref name.Reference
	if tag != "" {
		ref, err = name.NewTag(host+"/"+repository+":"+tag, name.Insecure)
	} else {
		ref, err = name.NewDigest(host+"/"+repository+"@"+digest.String(), name.Insecure)
	}
	if err != nil {
		return "", err
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("pushing to %s: %w", ref, err)
	}
	return ref.String(), nil
}
