package cluster

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"

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
	return pushProgram(ctx, c.registry, repository, binary, "", args)
}

// pushProgram is PushProgram for a registry at host, running the program
// as user ("" for the image's default, root).
func pushProgram(ctx context.Context, host, repository, binary, user string, args []string) (string, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", binary, err)
	}
	target := "/" + path.Base(binary)
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	hdr := &tar.Header{Name: target[1:], Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return "", err
	}
	if _, err := tw.Write(data); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", binary, err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config = v1.Config{Entrypoint: []string{target}, Cmd: args, User: user}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return "", err
	}
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	ref, err := name.NewDigest(host+"/"+repository+"@"+digest.String(), name.Insecure)
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", binary, err)
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("pushing %s to %s: %w", binary, ref, err)
	}
	return ref.String(), nil
}
