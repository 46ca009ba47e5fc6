package cluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The files the PKI writes, relative to the cluster directory.
const (
	caCertFile     = "pki/ca.crt"
	caKeyFile      = "pki/ca.key"
	serverCertFile = "pki/apiserver.crt"
	serverKeyFile  = "pki/apiserver.key"
	saKeyFile      = "pki/sa.key"
	saPubFile      = "pki/sa.pub"
	// The API server's client certificate for kubelets (logs, exec,
	// port-forward).
	kubeletClientCertFile = "pki/apiserver-kubelet-client.crt"
	kubeletClientKeyFile  = "pki/apiserver-kubelet-client.key"
)

// pki is what the control plane authenticates with: a CA that signs the
// API server's serving certificate and the client certificates of the
// admin, the node (kubelet, as system:node:<name> for the Node
// authorizer), kube-proxy and the API server talking to the kubelet (and,
// in kube-controller-manager, CertificateSigningRequests), and the key
// service-account tokens are signed with. ECDSA P-256 throughout, because
// generating it takes microseconds.
type pki struct {
	caCert, caKey                       []byte
	serverCert, serverKey               []byte
	adminCert, adminKey                 []byte
	nodeCert, nodeKey                   []byte
	proxyCert, proxyKey                 []byte
	dnsCert, dnsKey                     []byte
	kubeletClientCert, kubeletClientKey []byte
	saKey, saPub                        []byte
}

// newPKI makes the certificates; serviceIP is the kubernetes Service's
// address (the first of the service range), which the API server's
// certificate names, and node the name the kubelet registers as.
func newPKI(now time.Time, serviceIP net.IP, node string) (*pki, error) {
	var p pki
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the CA key: %w", err)
	}
	ca := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "driftless-cluster-ca"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caCert, err := sign(ca, caKey, ca, caKey, now)
	if err != nil {
		return nil, fmt.Errorf("signing the CA certificate: %w", err)
	}
	if ca, err = x509.ParseCertificate(caCert); err != nil {
		return nil, fmt.Errorf("parsing the CA certificate: %w", err)
	}
	p.caCert = pemBlock("CERTIFICATE", caCert)
	if p.caKey, err = pemKey(caKey); err != nil {
		return nil, err
	}

	certs := []struct {
		what      string
		template  *x509.Certificate
		cert, key *[]byte
	}{
		{"the API server's serving certificate", &x509.Certificate{
			Subject:     pkix.Name{CommonName: "kube-apiserver"},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), serviceIP},
			DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		}, &p.serverCert, &p.serverKey},
		{"the admin's client certificate", &x509.Certificate{
			Subject:     pkix.Name{CommonName: "driftless-admin", Organization: []string{"system:masters"}},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}, &p.adminCert, &p.adminKey},
		{"the node's client certificate", &x509.Certificate{
			Subject:     pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}, &p.nodeCert, &p.nodeKey},
		// The default ClusterRoleBinding system:node-proxier names this user.
		{"kube-proxy's client certificate", &x509.Certificate{
			Subject:     pkix.Name{CommonName: "system:kube-proxy"},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}, &p.proxyCert, &p.proxyKey},
		// The cluster DNS; objects.go binds it to what it reads.
		{"CoreDNS's client certificate", &x509.Certificate{
			Subject:     pkix.Name{CommonName: dnsUser},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}, &p.dnsCert, &p.dnsKey},
		{"the API server's client certificate for kubelets", &x509.Certificate{
			Subject:     pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}, &p.kubeletClientCert, &p.kubeletClientKey},
	}
	for _, c := range certs {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating the key of %s: %w", c.what, err)
		}
		der, err := sign(c.template, key, ca, caKey, now)
		if err != nil {
			return nil, fmt.Errorf("signing %s: %w", c.what, err)
		}
		*c.cert = pemBlock("CERTIFICATE", der)
		if *c.key, err = pemKey(key); err != nil {
			return nil, err
		}
	}

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the service-account key: %w", err)
	}
	if p.saKey, err = pemKey(saKey); err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding the service-account public key: %w", err)
	}
	p.saPub = pemBlock("PUBLIC KEY", pub)
	return &p, nil
}

// write puts the files the processes read into dir; the admin's, the
// node's and kube-proxy's credentials only go into their kubeconfigs.
func (p *pki) write(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "pki"), 0o700); err != nil {
		return fmt.Errorf("writing the PKI: %w", err)
	}
	for name, data := range map[string][]byte{
		caCertFile:            p.caCert,
		caKeyFile:             p.caKey,
		serverCertFile:        p.serverCert,
		serverKeyFile:         p.serverKey,
		saKeyFile:             p.saKey,
		saPubFile:             p.saPub,
		kubeletClientCertFile: p.kubeletClientCert,
		kubeletClientKeyFile:  p.kubeletClientKey,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return fmt.Errorf("writing the PKI: %w", err)
		}
	}
	return nil
}

func sign(template *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey crypto.Signer, now time.Time) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	template.SerialNumber = serial
	// An hour of slack for clocks; a year outlives any demo.
	template.NotBefore = now.Add(-time.Hour)
	template.NotAfter = now.Add(365 * 24 * time.Hour)
	return x509.CreateCertificate(rand.Reader, template, parent, key.Public(), parentKey)
}

func pemKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding a private key: %w", err)
	}
	return pemBlock("PRIVATE KEY", der), nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
