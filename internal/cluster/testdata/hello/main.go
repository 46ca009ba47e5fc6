// Command hello is the workload of the real node's tests: an HTTP server
// on :8080 that answers GET / with its host name (the pod's name),
// GET /healthz with ok, and GET /dial?addr=HOST:PORT with whether a TCP
// connection to addr opens within two seconds (what the pod can reach),
// and logs each request to stdout. "hello crash NAME..." prints the named
// environment variables and exits 1 instead, to crash-loop.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	host, _ := os.Hostname()
	log.SetFlags(0)
	log.SetOutput(os.Stdout)
	if len(os.Args) > 1 && os.Args[1] == "crash" {
		for _, name := range os.Args[2:] {
			log.Printf("hello: %s=%s", name, os.Getenv(name))
		}
		log.Fatal("hello: crashing as asked")
	}
	log.Printf("hello: serving on :8080 as %s", host)
	http.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("GET /dial", func(w http.ResponseWriter, r *http.Request) {
		addr := r.URL.Query().Get("addr")
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			fmt.Fprintf(w, "%s: %v\n", addr, err)
			return
		}
		c.Close()
		fmt.Fprintf(w, "%s: connected\n", addr)
	})
	http.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("hello: %s %s from %s", r.Method, r.URL.Path, r.RemoteAddr)
		fmt.Fprintf(w, "hello from %s\n", host)
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}
