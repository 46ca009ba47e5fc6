package configrev

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
)

// Prefix starts every revision, naming the hash so the format can change
// without two different revisions ever looking alike.
const Prefix = "sha256:"

// Dir returns the configuration revision of the directory tree rooted at
// dir, as "sha256:" followed by 64 lowercase hex digits.
//
// Symbolic links inside the tree are refused rather than followed: what they
// point to depends on the host. dir itself may be a symbolic link to a
// directory.
func Dir(dir string) (string, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("computing configuration revision of %q: %w", dir, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("computing configuration revision of %q: not a directory", dir)
	}
	rev, err := FS(os.DirFS(dir))
	if err != nil {
		return "", fmt.Errorf("computing configuration revision of %q: %w", dir, err)
	}
	return rev, nil
}

// FS returns the configuration revision of fsys, as "sha256:" followed by 64
// lowercase hex digits. Paths are hashed relative to the root of fsys.
//
// For each regular file, in the lexical order of fs.WalkDir, the hash is fed
// the slash-separated path, a NUL byte, the size in decimal, a NUL byte and
// the content. Directories contribute nothing of their own, so an empty
// directory does not change the revision. Any other kind of file (symbolic
// link, device, socket, named pipe) is an error naming its path.
func FS(fsys fs.FS) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch t := d.Type(); {
		case t.IsDir():
			return nil
		case t.IsRegular():
			return hashFile(h, fsys, path)
		case t&fs.ModeSymlink != 0:
			return fmt.Errorf("%q is a symbolic link: only regular files and directories are allowed in static configuration", path)
		default:
			return fmt.Errorf("%q is not a regular file (mode %s): only regular files and directories are allowed in static configuration", path, t)
		}
	})
	if err != nil {
		return "", err
	}
	return Prefix + hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(h io.Writer, fsys fs.FS, path string) (err error) {
	f, err := fsys.Open(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing %q: %w", path, cerr)
		}
	}()
	// Stat the open file, not the directory entry: the size must describe
	// the bytes actually read.
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading %q: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%q is not a regular file (mode %s): only regular files and directories are allowed in static configuration", path, info.Mode().Type())
	}
	size := info.Size()
	io.WriteString(h, path)
	h.Write([]byte{0})
	io.WriteString(h, strconv.FormatInt(size, 10))
	h.Write([]byte{0})
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("reading %q: %w", path, err)
	}
	if n != size {
		return fmt.Errorf("reading %q: %w", path, errChanged)
	}
	return nil
}

// errChanged reports a file whose size changed while it was hashed; the
// revision would describe neither version.
var errChanged = errors.New("file changed while it was read")
