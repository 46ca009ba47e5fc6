package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/driftless-dev/driftless/internal/registry/registrytest"
)

// TestMain lets a test run a push in a child process with an environment
// of its own: the cloud libraries read credentials, proxies and CA files
// from the process environment, some of them once per process.
func TestMain(m *testing.M) {
	if ref := os.Getenv("REGISTRY_TEST_PUSH"); ref != "" {
		os.Exit(childPush(ref))
	}
	os.Exit(m.Run())
}

// pushed is what a push said: its error, and what each credential source
// said for each registry.
type pushed struct {
	Err      string
	Attempts map[string][]string
}

func push(ctx context.Context, ref string, o Options) pushed {
	if o.Log == nil {
		o.Log = NewAuthLog()
	}
	var p pushed
	r, err := name.ParseReference(ref, o.NameOptions()...)
	if err == nil {
		img, _ := random.Image(256, 1)
		err = o.Explain(remote.Write(r, img, o.Remote(ctx)...))
	}
	if err != nil {
		p.Err = err.Error()
	}
	p.Attempts = map[string][]string{}
	for _, reg := range o.Log.Registries() {
		for _, a := range o.Log.Attempts(reg) {
			p.Attempts[reg] = append(p.Attempts[reg], a.String())
		}
	}
	return p
}

func childPush(ref string) int {
	timeout, _ := time.ParseDuration(os.Getenv("REGISTRY_TEST_CLOUD_TIMEOUT"))
	o := Options{GitHubToken: os.Getenv("REGISTRY_TEST_GITHUB_TOKEN"), CloudTimeout: timeout, Backoff: remote.Backoff{Steps: 1}}
	json.NewEncoder(os.Stdout).Encode(push(context.Background(), ref, o))
	return 0
}

// certs makes a CA and a certificate it signed for names, and writes the
// CA to a PEM file for SSL_CERT_FILE.
func certs(t *testing.T, names ...string) (tls.Certificate, *x509.CertPool, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "registrytest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	file := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool, file
}

// hosts serves each host name its own handler over TLS on 127.0.0.1.
func hosts(t *testing.T, cert tls.Certificate, handlers map[string]http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := handlers[hostname(r.Host)]
		if !ok {
			http.Error(w, "no such host here: "+r.Host, http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// mapped is a transport that reaches every host at addr (127.0.0.1),
// trusting pool: a registry under a public name, served locally.
func mapped(addr string, pool *x509.CertPool) http.RoundTripper {
	return &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}
}

// proxy is an HTTP proxy on 127.0.0.1 that tunnels CONNECTs to the hosts
// it knows to addr and refuses everything else, recording each request.
type proxy struct {
	addr  string
	known map[string]bool
	mu    sync.Mutex
	seen  []string
}

func newProxy(t *testing.T, addr string, known ...string) (*proxy, string) {
	t.Helper()
	p := &proxy{addr: addr, known: map[string]bool{}}
	for _, k := range known {
		p.known[k] = true
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *proxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// distinct returns each string once, sorted (nil for none).
func distinct(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.seen = append(p.seen, r.Method+" "+r.Host)
	p.mu.Unlock()
	if r.Method != http.MethodConnect || !p.known[hostname(r.Host)] {
		http.Error(w, "not through this proxy", http.StatusForbidden)
		return
	}
	up, err := net.Dial("tcp", p.addr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		up.Close()
		return
	}
	conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	go func() { io.Copy(up, buf); up.Close() }()
	io.Copy(conn, up)
	conn.Close()
}

// runChild pushes ref in a child process with only env (and nothing of
// this process's HOME, PATH or credentials).
func runChild(t *testing.T, ref string, env ...string) pushed {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append([]string{"REGISTRY_TEST_PUSH=" + ref, "HOME=" + home, "PATH=" + filepath.Join(home, "bin"), "AWS_EC2_METADATA_DISABLED=true"}, env...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("child push: %v\n%s%s", err, out, stderr)
	}
	var p pushed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("child push printed %q: %v", out, err)
	}
	return p
}

// dockerConfig writes a Docker config in a new HOME and DOCKER_CONFIG.
func dockerConfig(t *testing.T, cfg string) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := filepath.Join(home, ".docker")
	os.MkdirAll(dir, 0o700)
	t.Setenv("DOCKER_CONFIG", dir)
	if cfg != "" {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "config.json")
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// TestLocalSources pushes to registries that demand credentials, with the
// credentials coming from each source that lives on this machine: the
// Docker config, a credential helper it names, and the GitHub token for
// ghcr.io (served locally under that name).
func TestLocalSources(t *testing.T) {
	basic := registrytest.NewWithAuth(t, registrytest.Auth{Users: map[string]string{"bob": "s3cret"}})
	bearer := registrytest.NewWithAuth(t, registrytest.Auth{Users: map[string]string{"bob": "s3cret"}, Bearer: true})
	cert, pool, _ := certs(t, "ghcr.io")
	ghcrAddr := hosts(t, cert, map[string]http.Handler{"ghcr.io": registrytest.Auth{Users: map[string]string{"octocat": "ghs_jobtoken"}, Bearer: true}.Handler()})

	helperBin := t.TempDir()
	// A credential helper as Docker runs them: the registry on stdin, the
	// credentials as JSON on stdout.
	os.WriteFile(filepath.Join(helperBin, "docker-credential-team"), []byte(`#!/bin/sh
read host
[ "$1" = get ] && [ "$host" = "`+bearer+`" ] || { echo "credentials not found in native keychain"; exit 1; }
echo '{"ServerURL":"'$host'","Username":"bob","Secret":"s3cret"}'
`), 0o755)
	t.Setenv("PATH", helperBin+string(os.PathListSeparator)+os.Getenv("PATH"))

	for _, tc := range []struct {
		name   string
		config string
		ref    string
		opts   Options
		want   []string
	}{
		{
			name:   "Docker config entry",
			config: `{"auths":{"` + basic + `":{"auth":"` + basicAuth("bob", "s3cret") + `"}}}`,
			ref:    basic + "/team/app:v1",
			want:   []string{"Docker config (CONFIG, entry for " + basic + ")"},
		},
		{
			name:   "Docker config entry, token service",
			config: `{"auths":{"http://` + bearer + `":{"auth":"` + basicAuth("bob", "s3cret") + `"}}}`,
			ref:    bearer + "/team/app:v1",
			want:   []string{"Docker config (CONFIG, entry http://" + bearer + " for " + bearer + ")"},
		},
		{
			name:   "credential helper",
			config: `{"credHelpers":{"` + bearer + `":"team"}}`,
			ref:    bearer + "/team/app:v1",
			want:   []string{"Docker config (CONFIG, credential helper docker-credential-team for " + bearer + ")"},
		},
		{
			name: "GitHub token",
			ref:  "ghcr.io/acme/app:v1",
			opts: Options{GitHubToken: "ghs_jobtoken", GitHubActor: "octocat", Transport: mapped(ghcrAddr, pool)},
			want: []string{
				"Docker config (no DOCKERDIR/config.json): nothing for this registry",
				"GitHub token (github-token input or GITHUB_TOKEN)",
			},
		},
		{
			name:   "Docker config before the GitHub token",
			config: `{"auths":{"ghcr.io":{"auth":"` + basicAuth("octocat", "ghs_jobtoken") + `"}}}`,
			ref:    "ghcr.io/acme/app:v1",
			opts:   Options{GitHubToken: "ghs_other", Transport: mapped(ghcrAddr, pool)},
			want:   []string{"Docker config (CONFIG, entry for ghcr.io)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := dockerConfig(t, tc.config)
			got := push(t.Context(), tc.ref, tc.opts)
			if got.Err != "" {
				t.Fatalf("push: %s", got.Err)
			}
			reg := strings.SplitN(tc.ref, "/", 2)[0]
			r := strings.NewReplacer("CONFIG", file, "DOCKERDIR", filepath.Dir(file))
			for i := range tc.want {
				tc.want[i] = r.Replace(tc.want[i])
			}
			if diff := cmp.Diff(tc.want, got.Attempts[reg]); diff != "" {
				t.Errorf("sources asked for %s (-want +got):\n%s", reg, diff)
			}
		})
	}
}

// cloud is the fake cloud: GitHub's OIDC token endpoint, Google's STS,
// AWS STS and ECR's API, and Azure AD, all on 127.0.0.1, answering with
// the shapes their documentation gives, each checking that what it is
// handed is what the step before it issued.
type cloud struct {
	oidc      string // the job's OIDC token
	url       string
	mu        sync.Mutex
	calls     []string
	hangECR   bool
	release   chan struct{} // closed when the test ends, to end hung requests
	refuseSTS bool
}

func (c *cloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	c.mu.Lock()
	c.calls = append(c.calls, r.Method+" "+strings.TrimSuffix(r.URL.Path, "/"))
	refuseSTS, hangECR := c.refuseSTS, c.hangECR
	c.mu.Unlock()
	fail := func(status int, why string) { http.Error(w, why, status) }
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/github/oidc": // ACTIONS_ID_TOKEN_REQUEST_URL
		if r.Header.Get("Authorization") != "Bearer request-token" {
			fail(http.StatusUnauthorized, "bad request token")
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"value": c.oidc})
	case path == "/google/sts": // sts.googleapis.com/v1/token
		if refuseSTS || r.PostForm.Get("subject_token") != c.oidc || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "the subject token was refused"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": "ya29.from-sts", "issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "token_type": "Bearer", "expires_in": 3600})
	case path == "/aws/sts": // sts.<region>.amazonaws.com
		if r.PostForm.Get("Action") != "AssumeRoleWithWebIdentity" || r.PostForm.Get("WebIdentityToken") != c.oidc {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error><RequestId>1</RequestId></ErrorResponse>`)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>
<Credentials><AccessKeyId>ASIAFROMSTS</AccessKeyId><SecretAccessKey>sts-secret</SecretAccessKey><SessionToken>sts-session</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/deploy/driftless</Arn><AssumedRoleId>AROA:driftless</AssumedRoleId></AssumedRoleUser>
</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`)
	case path == "/aws/ecr": // api.ecr.<region>.amazonaws.com
		if hangECR {
			select {
			case <-r.Context().Done():
			case <-c.release:
			}
			return
		}
		if r.Header.Get("X-Amz-Target") != "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken" ||
			!strings.Contains(r.Header.Get("Authorization"), "Credential=ASIAFROMSTS/") || r.Header.Get("X-Amz-Security-Token") != "sts-session" {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}`)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprintf(w, `{"authorizationData":[{"authorizationToken":%q,"expiresAt":4070908800,"proxyEndpoint":"https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}]}`, basicAuth("AWS", "ecr-password"))
	case path == "/azure/tenant-1/oauth2/token": // login.microsoftonline.com
		if r.PostForm.Get("client_assertion") != c.oidc || r.PostForm.Get("client_id") != "client-1" {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": "AADSTS70021: No matching federated identity record found"})
			return
		}
		exp := fmt.Sprint(time.Now().Add(time.Hour).Unix())
		json.NewEncoder(w).Encode(map[string]string{"access_token": "aad-access", "expires_in": "3600", "expires_on": exp, "not_before": exp, "resource": r.PostForm.Get("resource"), "token_type": "Bearer"})
	default:
		fail(http.StatusNotFound, "no such endpoint")
	}
}

// acrExchange is ACR's /oauth2/exchange: an AAD access token for a
// refresh token of the registry's own.
func acrExchange(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth2/exchange" {
			next.ServeHTTP(w, r)
			return
		}
		r.ParseForm()
		if r.PostForm.Get("access_token") != "aad-access" || r.PostForm.Get("grant_type") != "access_token" {
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"invalid AAD token"}]}`, http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"refresh_token": "acr-refresh"})
	})
}

// TestCloudSources pushes to Artifact Registry, ECR and ACR under their
// own host names (served on 127.0.0.1 behind a proxy, the only address
// dialled), with credentials from each cloud's keychain as a GitHub job
// gets them through OIDC: Google's workload identity federation file,
// AWS's web identity token, Azure's federated token; each library finds
// them through its documented environment variables, and every token
// endpoint is a fake on 127.0.0.1.
func TestCloudSources(t *testing.T) {
	const (
		gar = "us-docker.pkg.dev"
		ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
		acr = "driftless.azurecr.io"
	)
	cert, _, caFile := certs(t, gar, ecr, acr, "ghcr.io")
	regAddr := hosts(t, cert, map[string]http.Handler{
		gar:       registrytest.Auth{Users: map[string]string{"_token": "ya29.from-sts"}, Bearer: true}.Handler(),
		ecr:       registrytest.Auth{Users: map[string]string{"AWS": "ecr-password"}}.Handler(),
		acr:       acrExchange(registrytest.Auth{RefreshTokens: []string{"acr-refresh"}, Bearer: true}.Handler()),
		"ghcr.io": registrytest.Auth{Users: map[string]string{"token": "ghs_jobtoken"}, Bearer: true}.Handler(),
	})
	fake := &cloud{oidc: "eyJ.github-oidc.sig", release: make(chan struct{})}
	cloudSrv := httptest.NewServer(fake)
	t.Cleanup(cloudSrv.Close)
	t.Cleanup(func() { close(fake.release) })
	fake.url = cloudSrv.URL
	prox, proxyURL := newProxy(t, regAddr, gar, ecr, acr, "ghcr.io")
	local := registrytest.New(t)

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "oidc-token")
	os.WriteFile(tokenFile, []byte(fake.oidc), 0o600)
	// What google-github-actions/auth writes for workload identity
	// federation: the subject token comes from the job's OIDC endpoint.
	gcreds := filepath.Join(dir, "gha-creds.json")
	os.WriteFile(gcreds, []byte(`{
  "type": "external_account",
  "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github/providers/github",
  "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
  "token_url": "`+fake.url+`/google/sts",
  "credential_source": {
    "url": "`+fake.url+`/github/oidc?audience=https://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github/providers/github",
    "headers": {"Authorization": "Bearer request-token"},
    "format": {"type": "json", "subject_token_field_name": "value"}
  }
}`), 0o600)
	azureEnv := filepath.Join(dir, "azure-env.json")
	os.WriteFile(azureEnv, []byte(`{"name": "AzureStackCloud", "activeDirectoryEndpoint": "`+fake.url+`/azure/", "resourceManagerEndpoint": "https://management.azure.com/", "tokenAudience": "https://management.azure.com/"}`), 0o600)

	netEnv := []string{"SSL_CERT_FILE=" + caFile, "HTTPS_PROXY=" + proxyURL, "HTTP_PROXY=" + proxyURL}
	google := []string{"GOOGLE_APPLICATION_CREDENTIALS=" + gcreds}
	aws := []string{"AWS_ROLE_ARN=arn:aws:iam::123456789012:role/deploy", "AWS_WEB_IDENTITY_TOKEN_FILE=" + tokenFile, "AWS_ROLE_SESSION_NAME=driftless",
		"AWS_ENDPOINT_URL_STS=" + fake.url + "/aws/sts", "AWS_ENDPOINT_URL_ECR=" + fake.url + "/aws/ecr"}
	azure := []string{"AZURE_CLIENT_ID=client-1", "AZURE_TENANT_ID=tenant-1", "AZURE_FEDERATED_TOKEN_FILE=" + tokenFile,
		"AZURE_ENVIRONMENT=AZURESTACKCLOUD", "AZURE_ENVIRONMENT_FILEPATH=" + azureEnv}
	all := append(append(append(append([]string{}, netEnv...), google...), aws...), azure...)

	for _, tc := range []struct {
		name     string
		ref      string
		env      []string
		setup    func()
		want     []string
		wantErr  string
		proxied  []string
		endpoint []string
	}{
		{
			name:     "Artifact Registry through workload identity federation",
			ref:      gar + "/proj/team/app:v1",
			env:      all,
			want:     []string{"Docker config (no ~/.docker/config.json): nothing for this registry", "Google Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS=" + gcreds + ")"},
			proxied:  []string{"CONNECT " + gar + ":443"},
			endpoint: []string{"GET /github/oidc", "POST /google/sts"},
		},
		{
			name:     "ECR through a web identity",
			ref:      ecr + "/team/app:v1",
			env:      all,
			want:     []string{"Docker config (no ~/.docker/config.json): nothing for this registry", "Amazon ECR (AWS credentials from AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)"},
			proxied:  []string{"CONNECT " + ecr + ":443"},
			endpoint: []string{"POST /aws/sts", "POST /aws/ecr"},
		},
		{
			name:     "ACR through a federated token",
			ref:      acr + "/team/app:v1",
			env:      all,
			want:     []string{"Docker config (no ~/.docker/config.json): nothing for this registry", "Azure Container Registry (Azure credentials from AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE)"},
			proxied:  []string{"CONNECT " + acr + ":443"},
			endpoint: []string{"POST /azure/tenant-1/oauth2/token"},
		},
		{
			// The clouds' keychains are not asked for other registries, so
			// nothing reaches a token endpoint or a metadata server.
			name:    "other registries ask no cloud",
			ref:     local + "/team/app:v1",
			env:     all,
			want:    []string{"Docker config (no ~/.docker/config.json): nothing for this registry"},
			proxied: nil,
		},
		{
			name:    "ghcr.io asks no cloud",
			ref:     "ghcr.io/acme/app:v1",
			env:     append([]string{"REGISTRY_TEST_GITHUB_TOKEN=ghs_jobtoken"}, all...),
			want:    []string{"Docker config (no ~/.docker/config.json): nothing for this registry", "GitHub token (github-token input or GITHUB_TOKEN)"},
			proxied: []string{"CONNECT ghcr.io:443"},
		},
		{
			name:     "a token endpoint that refuses",
			ref:      gar + "/proj/team/app:v1",
			env:      all,
			setup:    func() { fake.refuseSTS = true },
			want:     []string{"Docker config (no ~/.docker/config.json): nothing for this registry", "Google Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS=" + gcreds + "): failed: application default credentials: "},
			wantErr:  "invalid_grant",
			proxied:  []string{"CONNECT " + gar + ":443"},
			endpoint: []string{"GET /github/oidc", "POST /google/sts"},
		},
		{
			// A cloud that never answers holds the push up for the time
			// bound only, then the registry is asked anonymously.
			name:     "a token endpoint that hangs",
			ref:      ecr + "/team/app:v1",
			env:      append([]string{"REGISTRY_TEST_CLOUD_TIMEOUT=1s"}, all...),
			setup:    func() { fake.hangECR = true },
			want:     []string{"Docker config (no ~/.docker/config.json): nothing for this registry", "Amazon ECR (AWS credentials from AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE): failed: no answer within 1s"},
			wantErr:  "401 Unauthorized",
			proxied:  []string{"CONNECT " + ecr + ":443"},
			endpoint: []string{"POST /aws/sts", "POST /aws/ecr"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.mu.Lock()
			fake.calls, fake.refuseSTS, fake.hangECR = nil, false, false
			if tc.setup != nil {
				tc.setup()
			}
			fake.mu.Unlock()
			before := len(prox.requests())
			got := runChild(t, tc.ref, tc.env...)
			if tc.wantErr == "" && got.Err != "" {
				t.Fatalf("push: %s", got.Err)
			}
			if !strings.Contains(got.Err, tc.wantErr) {
				t.Errorf("push error %q, want it to say %q", got.Err, tc.wantErr)
			}
			reg := strings.SplitN(tc.ref, "/", 2)[0]
			attempts := got.Attempts[reg]
			for i := range attempts {
				if tc.wantErr != "" && i == len(tc.want)-1 && strings.HasPrefix(attempts[i], tc.want[i]) {
					attempts[i] = tc.want[i]
				}
			}
			if diff := cmp.Diff(tc.want, attempts); diff != "" {
				t.Errorf("sources asked for %s (-want +got):\n%s", reg, diff)
			}
			// Each distinct host the proxy was asked for (a client may
			// open several connections to one).
			if diff := cmp.Diff(tc.proxied, distinct(prox.requests()[before:])); diff != "" {
				t.Errorf("requests through the proxy (-want +got):\n%s", diff)
			}
			fake.mu.Lock()
			calls := fake.calls
			fake.mu.Unlock()
			if diff := cmp.Diff(tc.endpoint, calls); diff != "" {
				t.Errorf("token endpoints called (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCloudHosts(t *testing.T) {
	t.Parallel()
	for host, want := range map[string][3]bool{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com":              {true, false, false},
		"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com":     {true, false, false},
		"123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example": {},
		"public.ecr.aws":                   {},
		"europe-west1-docker.pkg.dev":      {false, true, false},
		"gcr.io":                           {false, true, false},
		"eu.gcr.io":                        {false, true, false},
		"evil-docker.pkg.dev.example.com":  {},
		"driftless.azurecr.io":             {false, false, true},
		"driftless.azurecr.io.example.com": {},
		"mcr.microsoft.com":                {},
		"ghcr.io":                          {},
		"127.0.0.1:5000":                   {},
	} {
		if got := [3]bool{IsECR(host), IsGoogle(host), IsACR(host)}; got != want {
			t.Errorf("%s: ECR, Google, ACR = %v, want %v", host, got, want)
		}
	}
}
