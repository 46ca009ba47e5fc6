package bake

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/driftless-dev/driftless/internal/repofs"
)

// File is one file or directory to put in the image.
type File struct {
	// Source is a file or directory on disk, inside Spec.Root once its
	// links are resolved.
	Source string
	// Target is the absolute path in the image.
	Target string
	// Mode overrides the file mode (directories keep theirs, below); zero
	// means 0755 for files with an executable bit, 0644 for the rest.
	// Directories are 0755, whatever the checkout's umask made them, except
	// a sticky directory (a rootfs's /tmp), which stays 1777: a shared
	// scratch directory every user may write to.
	Mode fs.FileMode
}

// entry is one tar entry of a layer.
type entry struct {
	name   string // without leading slash
	source string // the file to read, its links resolved; "" for directories
	link   string // symlink target
	mode   fs.FileMode
	dir    bool
	size   int64
}

// collect lists the entries of the layer holding f, parents included,
// sorted, so the same files always make the same tar stream. f.Source is
// read through root's rules (internal/repofs): it must resolve inside the
// repository, as must every link below it, which links then keeps as a
// link or refuses; named pipes, sockets and devices are refused without
// being opened. Every refusal is reported, not just the first.
func collect(ctx context.Context, root *repofs.Root, f File, links repofs.Links) ([]entry, error) {
	target := path.Clean(f.Target)
	if !path.IsAbs(target) {
		return nil, fmt.Errorf("target %q must be an absolute path in the image", f.Target)
	}
	byName := map[string]entry{}
	addDir := func(p string) {
		for d := p; d != "/" && d != "."; d = path.Dir(d) {
			n := strings.TrimPrefix(d, "/")
			if _, ok := byName[n]; !ok {
				byName[n] = entry{name: n, mode: 0o755, dir: true}
			}
		}
	}
	var refused []error
	err := root.Walk(ctx, f.Source, links, func(e repofs.Entry, err error) error {
		if err != nil {
			refused = append(refused, err)
			return nil
		}
		name := strings.TrimPrefix(path.Join(target, e.Rel), "/")
		switch {
		case e.IsDir() && e.Rel == ".":
			addDir(target)
			if target != "/" {
				byName[name] = dirEntry(name, e.Mode)
			}
		case e.IsDir():
			byName[name] = dirEntry(name, e.Mode)
		default:
			addDir(path.Dir(path.Join(target, e.Rel)))
			byName[name] = fileEntry(e, name, f.Mode)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(refused) > 0 {
		return nil, errors.Join(refused...)
	}
	out := make([]entry, 0, len(byName))
	for _, e := range byName {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// dirEntry is the tar entry of a directory: 0755, or 1777 when it is sticky
// on disk.
func dirEntry(name string, mode fs.FileMode) entry {
	if mode&fs.ModeSticky != 0 {
		return entry{name: name, mode: 0o777 | fs.ModeSticky, dir: true}
	}
	return entry{name: name, mode: 0o755, dir: true}
}

// fileEntry is the tar entry of a regular file or a kept link.
func fileEntry(e repofs.Entry, name string, mode fs.FileMode) entry {
	if e.IsLink() {
		return entry{name: name, link: e.Link, mode: 0o777}
	}
	if mode == 0 {
		mode = 0o644
		if e.Mode&0o111 != 0 {
			mode = 0o755
		}
	}
	return entry{name: name, source: e.Real, mode: mode, size: e.Size}
}

// writeTar writes the entries as a tar stream with owner root and the
// given modification time on every entry, reading the files through root
// (which opens regular files only, and stops reading once ctx ends).
func writeTar(ctx context.Context, root *repofs.Root, w io.Writer, entries []entry, mtime time.Time) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: int64(e.mode.Perm()), ModTime: mtime, Format: tar.FormatPAX}
		if e.mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000 // c_ISVTX
		}
		switch {
		case e.dir:
			h.Typeflag, h.Name = tar.TypeDir, e.name+"/"
		case e.link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.link
		default:
			h.Typeflag, h.Size = tar.TypeReg, e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		f, err := root.Open(ctx, e.source)
		if err != nil {
			return err
		}
		n, err := io.Copy(tw, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("reading %q: %w", e.source, err)
		}
		if n != e.size {
			return fmt.Errorf("%q changed while it was being added", e.source)
		}
	}
	return tw.Close()
}

// newLayer makes a layer of f. The files are read, tarred and compressed
// once, in one pass, into an unlinked temporary file that the digest and
// every upload then read: a large static directory is never held in
// memory, nor compressed twice. The compression is go-containerregistry's
// own (gzip, best speed, no header fields), so the bytes, and the digest,
// are those tarball.LayerFromOpener would make.
func newLayer(ctx context.Context, root *repofs.Root, f File, links repofs.Links, mtime time.Time, mt types.MediaType) (v1.Layer, error) {
	entries, err := collect(ctx, root, f, links)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, errors.New("empty layer")
	}
	spool, err := os.CreateTemp("", "driftless-layer-")
	if err != nil {
		return nil, fmt.Errorf("making room for the layer: %w", err)
	}
	// Unlinked at once: the open file is all that is needed, and the disk
	// space comes back when the process ends, however it ends.
	os.Remove(spool.Name())
	l, err := writeSpool(ctx, root, spool, entries, mtime)
	if err != nil {
		spool.Close()
		return nil, err
	}
	l.mediaType = mt
	return l, nil
}

// writeSpool writes the entries' tar stream, compressed, to spool, with
// the hashes of both.
func writeSpool(ctx context.Context, root *repofs.Root, spool *os.File, entries []entry, mtime time.Time) (*spooledLayer, error) {
	digest, diffID := sha256.New(), sha256.New()
	counted := &countingWriter{w: io.MultiWriter(spool, digest)}
	bw := bufio.NewWriterSize(counted, 1<<16)
	zw, err := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if err := writeTar(ctx, root, io.MultiWriter(zw, diffID), entries, mtime); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing the layer: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("writing the layer to %s: %w", spool.Name(), err)
	}
	return &spooledLayer{
		file:   spool,
		size:   counted.n,
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(digest.Sum(nil))},
		diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diffID.Sum(nil))},
	}, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// spooledLayer is a layer whose compressed bytes are in a file.
type spooledLayer struct {
	file           *os.File
	size           int64
	digest, diffID v1.Hash
	mediaType      types.MediaType
}

var _ v1.Layer = (*spooledLayer)(nil)

func (l *spooledLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *spooledLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *spooledLayer) Size() (int64, error)                { return l.size, nil }
func (l *spooledLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }

func (l *spooledLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(io.NewSectionReader(l.file, 0, l.size)), nil
}

func (l *spooledLayer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(io.NewSectionReader(l.file, 0, l.size))
}
