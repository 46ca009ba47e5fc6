// Command coredns is CoreDNS with only the plugins the local cluster's real
// node uses (errors, cache, kubernetes), so it builds in a fraction of the
// time the full build with every cloud provider's plugin takes. It answers
// for cluster.local from the API server and nothing else: the node has no
// way out to forward other names to.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
)

func init() {
	// The order plugins handle a query in.
	dnsserver.Directives = []string{"errors", "cache", "kubernetes"}
}

func main() { coremain.Run() }
