package repofs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Root is the top directory of a repository, its own symbolic links
// resolved: every path read through it must lead inside it.
type Root struct {
	dir string
}

// NewRoot returns the directory dir as a Root.
func NewRoot(dir string) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("repository root %q: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("repository root %q: %w", dir, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("repository root %q: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("repository root %q is not a directory", dir)
	}
	return &Root{dir: real}, nil
}

// FindRoot returns the root of the Git work tree holding dir: the nearest
// of dir and its parents (symbolic links resolved) with a .git entry, a
// directory or, in a linked worktree or a submodule, a file. Outside a Git
// work tree the root is dir itself. Git is not run, so the answer does not
// depend on its version, its configuration or the ownership checks
// (safe.directory) that make it refuse a checkout in a container.
func FindRoot(dir string) (*Root, error) {
	start, err := NewRoot(dir)
	if err != nil {
		return nil, err
	}
	for d := start.dir; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return &Root{dir: d}, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return start, nil
		}
		d = parent
	}
}

// Dir is the root's directory, absolute and with its links resolved.
func (r *Root) Dir() string { return r.dir }

// contains reports whether real, absolute and with its links resolved, is
// the root or under it.
func (r *Root) contains(real string) bool {
	rel, err := filepath.Rel(r.dir, real)
	return err == nil && !filepath.IsAbs(rel) && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func (r *Root) outside(path, real string) *Error {
	return &Error{Path: path, Resolved: real, Reason: fmt.Sprintf("outside the repository %q; only files inside it are read", r.dir)}
}

// Resolve returns the absolute path path leads to once every symbolic link
// in it is resolved, and refuses (*Error) one that leads outside the root.
func (r *Root) Resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolving %q: %w", path, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err // an *fs.PathError that names the path
	}
	if !r.contains(real) {
		return "", r.outside(path, real)
	}
	return real, nil
}

// Error is a path the rules refuse: where it leads, if that was looked
// at, and why it is refused.
type Error struct {
	// Path is the path as given (or found under a walked directory).
	Path string
	// Resolved is where Path's symbolic links lead; empty when they were
	// not followed.
	Resolved string
	// Reason says what is wrong and what is allowed.
	Reason string
}

func (e *Error) Error() string {
	if e.Resolved != "" && e.Resolved != e.Path {
		return fmt.Sprintf("%q (resolves to %q): %s", e.Path, e.Resolved, e.Reason)
	}
	return fmt.Sprintf("%q: %s", e.Path, e.Reason)
}

// Why is the error without the path, for a report that shows the path
// already: where it resolves to, if that was looked at, and the reason.
func (e *Error) Why() string {
	if e.Resolved != "" && e.Resolved != e.Path {
		return fmt.Sprintf("resolves to %q: %s", e.Resolved, e.Reason)
	}
	return e.Reason
}

// notRegular refuses what is neither a regular file, a directory nor a
// symbolic link, by its type alone: opening a named pipe blocks until
// something writes to it.
func notRegular(path string, mode fs.FileMode) *Error {
	kind := "not a regular file (mode " + mode.Type().String() + ")"
	switch t := mode.Type(); {
	case t&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		kind = "a socket"
	case t&fs.ModeCharDevice != 0:
		kind = "a character device"
	case t&fs.ModeDevice != 0:
		kind = "a device"
	case t&fs.ModeDir != 0:
		return &Error{Path: path, Reason: "a directory where a file is expected"}
	}
	return &Error{Path: path, Reason: kind + ", refused without being opened; only regular files and directories are read"}
}

// TooLargeError refuses a file larger than a caller's limit on what it
// reads whole.
type TooLargeError struct {
	Path      string
	Size, Max int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%q is %d bytes (%s), more than the %s a file read whole may have", e.Path, e.Size, byteSize(e.Size), byteSize(e.Max))
}

// byteSize prints n in binary units: 16 MiB, 286.1 MiB.
func byteSize(n int64) string {
	const unit = 1 << 10
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0") + " " + []string{"KiB", "MiB", "GiB", "TiB"}[i]
}

// Links says what Walk does with a symbolic link below the walked path.
type Links int

const (
	// RefuseLinks refuses every link below the walked path: the static
	// configuration, whose revision hash (internal/configrev) covers
	// regular files only, as the service computes it at start.
	RefuseLinks Links = iota
	// KeepLinks reports a link that resolves inside the root as a link,
	// without following it: image layers keep links as links, their
	// target text as Git stores it, so the image stays reproducible.
	KeepLinks
)

// Entry is something Walk found that the rules allow.
type Entry struct {
	// Path is the walked path joined with Rel: what messages show.
	Path string
	// Rel is slash-separated and relative to the walked path; "." for
	// the walked path itself.
	Rel string
	// Real is Path with every symbolic link resolved: what to open.
	Real string
	// Mode and Size are the entry's own (lstat), a link's not followed.
	Mode fs.FileMode
	Size int64
	// Link is a kept link's target as written.
	Link string
}

// IsDir reports whether the entry is a directory.
func (e Entry) IsDir() bool { return e.Mode.IsDir() }

// IsLink reports whether the entry is a kept symbolic link.
func (e Entry) IsLink() bool { return e.Mode&fs.ModeSymlink != 0 }

// WalkFunc is called by Walk for each entry the rules allow (err nil), or
// with the error that refuses an entry (an *Error) or that reading it
// gave. Returning nil goes on past a refused entry (a refused directory
// is not entered); returning an error stops the walk with it.
type WalkFunc func(e Entry, err error) error

// Walk visits path, once its links are resolved and it is confined to the
// root, and everything under it if it is a directory, in lexical order.
// Links below path are not followed: each must resolve inside the root,
// and then links decides. Anything else that is not a regular file or
// directory (a named pipe, socket or device) is refused without being
// opened. An error about path itself is returned without calling fn. The
// walk stops with ctx's error once ctx ends.
func (r *Root) Walk(ctx context.Context, path string, links Links, fn WalkFunc) error {
	real, err := r.Resolve(path)
	if err != nil {
		return err
	}
	top, err := os.Lstat(real)
	if err != nil {
		return fmt.Errorf("reading %q: %w", path, err)
	}
	if !top.IsDir() {
		if !top.Mode().IsRegular() {
			e := notRegular(path, top.Mode())
			e.Resolved = real
			return e
		}
		return fn(Entry{Path: path, Rel: ".", Real: real, Mode: top.Mode(), Size: top.Size()}, nil)
	}
	return filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel, rerr := filepath.Rel(real, p)
		if rerr != nil {
			return rerr
		}
		e := Entry{Path: filepath.Join(path, rel), Rel: filepath.ToSlash(rel), Real: p}
		if err != nil {
			return fn(e, fmt.Errorf("reading %q: %w", e.Path, err))
		}
		info, err := d.Info()
		if err != nil {
			return fn(e, fmt.Errorf("reading %q: %w", e.Path, err))
		}
		e.Mode, e.Size = info.Mode(), info.Size()
		switch {
		case info.IsDir(), info.Mode().IsRegular():
			return fn(e, nil)
		case info.Mode()&fs.ModeSymlink != 0:
			if err := r.checkLink(&e, links); err != nil {
				return fn(e, err)
			}
			return fn(e, nil)
		default:
			return fn(e, notRegular(e.Path, info.Mode()))
		}
	})
}

// Check walks path as Walk does and returns every refusal and read
// error, joined; nil when everything under path may be read.
func (r *Root) Check(ctx context.Context, path string, links Links) error {
	var errs []error
	err := r.Walk(ctx, path, links, func(_ Entry, err error) error {
		if err != nil {
			errs = append(errs, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return errors.Join(errs...)
}

// checkLink reads the link at e and refuses it unless it leads inside
// the root and links keeps links.
func (r *Root) checkLink(e *Entry, links Links) error {
	target, err := os.Readlink(e.Real)
	if err != nil {
		return fmt.Errorf("reading %q: %w", e.Path, err)
	}
	e.Link = target
	resolved, err := filepath.EvalSymlinks(e.Real)
	if err != nil {
		return &Error{Path: e.Path, Reason: fmt.Sprintf("a symbolic link to %q, which leads to nothing that exists (%v); only links that resolve inside the repository are kept", target, err)}
	}
	if !r.contains(resolved) {
		return r.outside(e.Path, resolved)
	}
	if links == RefuseLinks {
		return &Error{Path: e.Path, Resolved: resolved, Reason: fmt.Sprintf("a symbolic link (to %q); the static configuration holds only regular files and directories, all its revision hash covers", target)}
	}
	return nil
}

// File is a regular file of the repository open for reading.
type File struct {
	ctx  context.Context
	f    *os.File
	size int64
}

// Open opens the regular file path leads to, inside the root, for reading.
// A named pipe, socket or device is refused by its type before any open,
// and the open itself neither blocks (O_NONBLOCK) nor follows a link
// (O_NOFOLLOW) swapped in meanwhile. Reads fail with ctx's error once ctx
// ends.
func (r *Root) Open(ctx context.Context, path string) (*File, error) {
	real, err := r.Resolve(path)
	if err != nil {
		return nil, err
	}
	before, err := os.Lstat(real)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	if !before.Mode().IsRegular() {
		e := notRegular(path, before.Mode())
		e.Resolved = real
		return nil, e
	}
	f, err := os.OpenFile(real, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	after, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	if !after.Mode().IsRegular() || !os.SameFile(before, after) {
		f.Close()
		return nil, &Error{Path: path, Resolved: real, Reason: "replaced while it was being opened"}
	}
	return &File{ctx: ctx, f: f, size: after.Size()}, nil
}

// Size is the file's size when it was opened.
func (f *File) Size() int64 { return f.size }

// Read reads from the file unless the context has ended.
func (f *File) Read(p []byte) (int, error) {
	if err := f.ctx.Err(); err != nil {
		return 0, err
	}
	return f.f.Read(p)
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// ReadFile reads the whole regular file path leads to, as Open opens it,
// and refuses (*TooLargeError) a file of more than max bytes before
// reading any of it, or as soon as it grows past max while being read.
func (r *Root) ReadFile(ctx context.Context, path string, max int64) ([]byte, error) {
	f, err := r.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if f.size > max {
		return nil, &TooLargeError{Path: path, Size: f.size, Max: max}
	}
	var buf bytes.Buffer
	buf.Grow(int(f.size) + bytes.MinRead)
	n, err := buf.ReadFrom(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	if n > max {
		return nil, &TooLargeError{Path: path, Size: n, Max: max}
	}
	return buf.Bytes(), nil
}
