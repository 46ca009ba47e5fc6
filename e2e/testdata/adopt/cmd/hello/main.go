// Command hello is a team's own service as e2e/adopt_test.go adopts
// driftless for it, following the README's quickstart: it reads its static
// configuration from STATIC_DIR, serves GET /version with the release it
// was built as and that configuration's revision (docs/service-contract.md),
// and GET /healthz. It has no dependencies and knows nothing of driftless.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
)

// version is the release, set when building:
// go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	dir := getenv("STATIC_DIR", "static")
	rev, err := configRevision(dir)
	if err != nil {
		log.Fatalf("reading the static configuration: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Config-Revision", rev)
		json.NewEncoder(w).Encode(map[string]string{"version": version, "configRevision": rev})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	ln, err := net.Listen("tcp", getenv("ADDR", ":8080"))
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("hello %s listening on %s, configuration %s", version, ln.Addr(), rev)
	log.Fatal(http.Serve(ln, mux))
}

// configRevision is the contract's hash: for each regular file, in the
// walk's lexical order, its slash-separated path, NUL, its size in
// decimal, NUL, its bytes.
func configRevision(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: only regular files belong in the static configuration", path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(b))
		h.Write(b)
		return nil
	})
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), err
}

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
