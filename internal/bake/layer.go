package bake

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// File is one file or directory to put in the image.
type File struct {
	// Source is a file or directory on disk.
	Source string
	// Target is the absolute path in the image.
	Target string
	// Mode overrides the file mode (directories keep 0755); zero means
	// 0755 for files with an executable bit, 0644 for the rest.
	Mode fs.FileMode
}

// entry is one tar entry of a layer.
type entry struct {
	name   string // without leading slash
	source string // "" for directories
	link   string // symlink target
	mode   fs.FileMode
	dir    bool
	size   int64
}

// collect lists the entries of a layer, parents included, sorted, so the
// same files always make the same tar stream.
func collect(files []File) ([]entry, error) {
	byName := map[string]entry{}
	addDir := func(p string) {
		for d := p; d != "/" && d != "."; d = path.Dir(d) {
			n := strings.TrimPrefix(d, "/")
			if _, ok := byName[n]; !ok {
				byName[n] = entry{name: n, mode: 0o755, dir: true}
			}
		}
	}
	for _, f := range files {
		target := path.Clean(f.Target)
		if !path.IsAbs(target) {
			return nil, fmt.Errorf("target %q must be an absolute path in the image", f.Target)
		}
		// The source itself may be a symlink (to a directory kept
		// elsewhere); links inside it are kept as links.
		if resolved, err := filepath.EvalSymlinks(f.Source); err == nil {
			f.Source = resolved
		}
		fi, err := os.Lstat(f.Source)
		if err != nil {
			return nil, fmt.Errorf("adding %q: %w", f.Source, err)
		}
		if !fi.IsDir() {
			e, err := fileEntry(f.Source, fi, strings.TrimPrefix(target, "/"), f.Mode)
			if err != nil {
				return nil, err
			}
			addDir(path.Dir(target))
			byName[e.name] = e
			continue
		}
		addDir(target)
		err = filepath.WalkDir(f.Source, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(f.Source, p)
			if err != nil {
				return err
			}
			name := strings.TrimPrefix(path.Join(target, filepath.ToSlash(rel)), "/")
			if name == "" {
				return nil // the image's root itself (to: /)
			}
			if d.IsDir() {
				byName[name] = entry{name: name, mode: 0o755, dir: true}
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			e, err := fileEntry(p, fi, name, f.Mode)
			if err != nil {
				return err
			}
			byName[name] = e
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("adding %q: %w", f.Source, err)
		}
	}
	out := make([]entry, 0, len(byName))
	for _, e := range byName {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func fileEntry(src string, fi fs.FileInfo, name string, mode fs.FileMode) (entry, error) {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return entry{}, err
		}
		return entry{name: name, link: target, mode: 0o777}, nil
	case !fi.Mode().IsRegular():
		return entry{}, fmt.Errorf("%q is not a regular file, directory or symlink", src)
	}
	if mode == 0 {
		mode = 0o644
		if fi.Mode()&0o111 != 0 {
			mode = 0o755
		}
	}
	return entry{name: name, source: src, mode: mode, size: fi.Size()}, nil
}

// writeTar writes the entries as a tar stream with owner root and the
// given modification time on every entry.
func writeTar(w io.Writer, entries []entry, mtime time.Time) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: int64(e.mode.Perm()), ModTime: mtime, Format: tar.FormatPAX}
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
		f, err := os.Open(e.source)
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

// newLayer makes a layer that streams the files from disk whenever it is
// read, so large static directories are never held in memory.
func newLayer(files []File, mtime time.Time, mt types.MediaType) (v1.Layer, error) {
	entries, err := collect(files)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, errors.New("empty layer")
	}
	opener := func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeTar(pw, entries, mtime)) }()
		return pr, nil
	}
	// The digest and the upload both need the compressed bytes: keep them
	// (they are the size of the layer) rather than compressing twice.
	return tarball.LayerFromOpener(opener, tarball.WithMediaType(mt), tarball.WithCompressedCaching)
}
