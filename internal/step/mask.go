package step

import (
	"bytes"
	"io"
	"sort"
	"sync"
)

// masker replaces every registered secret with "***" in what passes through
// its writers. Steps write whole lines, so a secret is never split across
// two writes by our own code.
type masker struct {
	mu      sync.RWMutex
	secrets [][]byte
}

// minSecretLen keeps us from masking trivial values ("1", "true") that would
// garble every line.
const minSecretLen = 3

func (m *masker) add(secret string) bool {
	if len(secret) < minSecretLen {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.secrets {
		if string(s) == secret {
			return false
		}
	}
	m.secrets = append(m.secrets, []byte(secret))
	// Longest first, so a secret containing another is masked whole.
	sort.Slice(m.secrets, func(i, j int) bool { return len(m.secrets[i]) > len(m.secrets[j]) })
	return true
}

func (m *masker) mask(p []byte) []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, s := range m.secrets {
		if bytes.Contains(p, s) {
			p = bytes.ReplaceAll(p, s, []byte("***"))
		}
	}
	return p
}

// String masks s.
func (m *masker) String(s string) string { return string(m.mask([]byte(s))) }

// maskedWriter masks and serialises writes: steps log from several
// goroutines (apply-env applies a stage in parallel), and each line must
// arrive whole.
type maskedWriter struct {
	m  *masker
	mu sync.Mutex
	w  io.Writer

	// defuse, on GitHub, keeps lines from being read as workflow commands
	// (see command.go). Lines are then written whole, as the runner reads
	// them: an unfinished one waits in partial for its end (or Flush), so
	// that "::" split across two writes is seen too.
	defuse  bool
	partial []byte
	midLine bool // the start of the current line was already written
}

func (mw *maskedWriter) Write(p []byte) (int, error) {
	mw.mu.Lock()
	defer mw.mu.Unlock()
	if !mw.defuse {
		if _, err := mw.w.Write(mw.m.mask(p)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	buf := append(mw.partial, p...)
	n := lineEnd(buf)
	if n == 0 && len(buf) > maxPartialLine {
		n = len(buf)
	}
	if n > 0 {
		out := defuseLines(mw.m.mask(buf[:n]), !mw.midLine)
		mw.midLine = lineEnd(buf[:n]) != n
		if _, err := mw.w.Write(out); err != nil {
			return 0, err
		}
	}
	mw.partial = append(mw.partial[:0:0], buf[n:]...)
	return len(p), nil
}

// Flush writes an unfinished last line.
func (mw *maskedWriter) Flush() error {
	mw.mu.Lock()
	defer mw.mu.Unlock()
	if len(mw.partial) == 0 {
		return nil
	}
	out := defuseLines(mw.m.mask(mw.partial), !mw.midLine)
	mw.partial, mw.midLine = nil, true
	_, err := mw.w.Write(out)
	return err
}
