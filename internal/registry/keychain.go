package registry

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	ecr "github.com/awslabs/amazon-ecr-credential-helper/ecr-login"
	acr "github.com/chrismellard/docker-credential-acr-env/pkg/credhelper"
	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/google"
)

// Credential sources, in the order they are asked: the first that has
// credentials for a registry answers, as in ko and crane.
const (
	SourceDockerConfig = "Docker config"
	SourceGitHubToken  = "GitHub token"
	SourceGoogle       = "Google Application Default Credentials"
	SourceECR          = "Amazon ECR"
	SourceACR          = "Azure Container Registry"
)

// DefaultCloudTimeout bounds how long one cloud source may take to answer
// for one registry (a token exchange, or the SDK's probe of an instance
// metadata server when nothing else is configured). A source that takes
// longer leaves the registry to the next source, or to anonymous access.
const DefaultCloudTimeout = 20 * time.Second

// The cloud sources answer only for their own registries, matched by host
// name before any library code runs, so that no other registry (a local one,
// ghcr.io, Docker Hub) ever waits on a token exchange or a metadata probe.
var (
	// Private ECR registries: <account>.dkr.ecr[-fips].<region>.amazonaws.com
	// (and the China, ISO and dual-stack partitions ecr-login knows).
	ecrHost = regexp.MustCompile(`^\d{12}\.dkr[.-]ecr(-fips)?\.[a-zA-Z0-9][a-zA-Z0-9-_]*\.(amazonaws\.(com(\.cn)?|eu)|on\.(aws|amazonwebservices\.com\.cn)|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$`)
	// Artifact Registry (<region>-docker.pkg.dev) and Container Registry.
	googleHost = regexp.MustCompile(`^([a-z0-9-]+-docker\.pkg\.dev|([a-z]+\.)?gcr\.io)$`)
	// Azure Container Registry in the clouds the ACR helper knows. Its own
	// test is unanchored (x.azurecr.io.example.com would match) and also
	// sends a token to mcr.microsoft.com, so it is asked only after this.
	acrHost = regexp.MustCompile(`^[a-zA-Z0-9-]+\.azurecr\.(io|cn|de|us)$`)
)

// IsECR, IsGoogle and IsACR report whether a registry host belongs to a
// cloud source.
func IsECR(host string) bool    { return ecrHost.MatchString(hostname(host)) }
func IsGoogle(host string) bool { return googleHost.MatchString(hostname(host)) }
func IsACR(host string) bool    { return acrHost.MatchString(hostname(host)) }

func hostname(host string) string {
	if u, err := url.Parse("https://" + host); err == nil {
		return u.Hostname()
	}
	return host
}

// Attempt is what one credential source said for one registry.
type Attempt struct {
	// Source is one of the Source constants (or "keychain" for
	// Options.Keychain).
	Source string
	// Answered is true when the source gave credentials.
	Answered bool
	// Where says where the source looked: a file and its entry, the
	// environment variables it read. Never a secret.
	Where string
	// Err is why the source could not answer, when it tried and failed.
	Err error
}

func (a Attempt) String() string {
	s := a.Source
	if a.Where != "" {
		s += " (" + a.Where + ")"
	}
	switch {
	case a.Err != nil:
		return s + ": failed: " + a.Err.Error()
	case !a.Answered:
		return s + ": nothing for this registry"
	}
	return s
}

// AuthLog records, per registry, which credential sources were asked and
// what each said, and which token service speaks for which registry, so
// that a refusal can name them. One log serves a step's whole run; it is
// safe for concurrent use.
type AuthLog struct {
	mu       sync.Mutex
	attempts map[string][]Attempt
	realms   map[string]string
}

// NewAuthLog returns an empty log.
func NewAuthLog() *AuthLog {
	return &AuthLog{attempts: map[string][]Attempt{}, realms: map[string]string{}}
}

// Attempts returns what the sources said for registry, in the order asked.
func (l *AuthLog) Attempts(registry string) []Attempt {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Attempt(nil), l.attempts[registry]...)
}

// Registries returns the registries credentials were asked for, sorted.
func (l *AuthLog) Registries() []string {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	regs := make([]string, 0, len(l.attempts))
	for r := range l.attempts {
		regs = append(regs, r)
	}
	sort.Strings(regs)
	return regs
}

func (l *AuthLog) add(registry string, a Attempt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	as := l.attempts[registry]
	for i := range as {
		if as[i].Source == a.Source {
			as[i] = a
			return
		}
	}
	l.attempts[registry] = append(as, a)
}

func (l *AuthLog) addRealm(tokenHost, registry string) {
	if l == nil || tokenHost == registry {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.realms[tokenHost] = registry
}

// registryFor maps the host a refused request went to (a registry, or the
// token service a registry sent the client to) to the registry.
func (l *AuthLog) registryFor(host string) string {
	if l == nil {
		return host
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.attempts[host]; ok {
		return host
	}
	if r, ok := l.realms[host]; ok {
		return r
	}
	if len(l.attempts) == 1 {
		for r := range l.attempts {
			return r
		}
	}
	return host
}

// recorded is one credential source, recording what it says in the log.
type recorded struct {
	name  string
	kc    authn.Keychain
	log   *AuthLog
	serve func(registry string) bool
	where func(registry string) string
	// failure returns why the source had nothing for registry, when it
	// knows (a helper's error); nil otherwise.
	failure func(registry string) error
}

func (r *recorded) Resolve(res authn.Resource) (authn.Authenticator, error) {
	return r.ResolveContext(context.Background(), res)
}

func (r *recorded) ResolveContext(ctx context.Context, res authn.Resource) (authn.Authenticator, error) {
	reg := res.RegistryStr()
	if r.serve != nil && !r.serve(reg) {
		return authn.Anonymous, nil
	}
	auth, err := authn.Resolve(ctx, r.kc, res)
	a := Attempt{Source: r.name, Answered: err == nil && auth != authn.Anonymous, Err: err}
	if r.where != nil {
		a.Where = r.where(reg)
	}
	if !a.Answered && a.Err == nil && r.failure != nil {
		a.Err = r.failure(reg)
	}
	r.log.add(reg, a)
	return auth, err
}

// keychain is every credential source, each recording into log: the Docker
// config (and the credential helpers it names), the GitHub token for
// ghcr.io, then Google's, Amazon ECR's and Azure's keychains, the way ko
// combines them. Options.Keychain, when set, replaces the lot.
func (o Options) keychainWith(log *AuthLog) authn.Keychain {
	if o.Keychain != nil {
		return &recorded{name: "keychain", kc: o.Keychain, log: log}
	}
	timeout := o.CloudTimeout
	if timeout == 0 {
		timeout = DefaultCloudTimeout
	}
	gh := ghcr{user: o.GitHubActor, token: o.GitHubToken}
	ecrH := &cloudHelper{name: SourceECR, timeout: timeout, get: getECR}
	acrH := &cloudHelper{name: SourceACR, timeout: timeout, get: acr.NewACRCredentialsHelper().Get}
	gk := &googleKeychain{timeout: timeout}
	return authn.NewMultiKeychain(
		&recorded{name: SourceDockerConfig, kc: authn.DefaultKeychain, log: log, where: dockerConfigWhere},
		&recorded{name: SourceGitHubToken, kc: gh, log: log, serve: isGHCR, where: gh.where},
		&recorded{name: SourceGoogle, kc: gk, log: log, serve: IsGoogle, where: googleWhere, failure: gk.failure},
		&recorded{name: SourceECR, kc: authn.NewKeychainFromHelper(ecrH), log: log, serve: IsECR, where: ecrWhere, failure: ecrH.failure},
		&recorded{name: SourceACR, kc: authn.NewKeychainFromHelper(acrH), log: log, serve: IsACR, where: acrWhere, failure: acrH.failure},
	)
}

func isGHCR(registry string) bool { return registry == "ghcr.io" }

// ghcr authenticates to GitHub's registry with the CI token.
type ghcr struct{ user, token string }

func (g ghcr) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() != "ghcr.io" || g.token == "" {
		return authn.Anonymous, nil
	}
	user := g.user
	if user == "" {
		user = "token" // ghcr.io checks only the token
	}
	return &authn.Basic{Username: user, Password: g.token}, nil
}

func (g ghcr) where(string) string {
	if g.token == "" {
		return "github-token input or GITHUB_TOKEN: unset"
	}
	return "github-token input or GITHUB_TOKEN"
}

// cloudHelper runs one cloud credential helper at most once per registry
// and within a time bound: the helpers take no context, and an SDK with
// nothing configured may wait on an instance metadata server. What it
// answers (or why not) is kept for the rest of the run.
type cloudHelper struct {
	name    string
	timeout time.Duration
	get     func(serverURL string) (user, secret string, err error)

	mu      sync.Mutex
	results map[string]*helperResult
}

type helperResult struct {
	done         chan struct{}
	user, secret string
	err          error
}

func (h *cloudHelper) Get(serverURL string) (string, string, error) {
	h.mu.Lock()
	if h.results == nil {
		h.results = map[string]*helperResult{}
	}
	r, ok := h.results[serverURL]
	if !ok {
		r = &helperResult{done: make(chan struct{})}
		h.results[serverURL] = r
		go func() {
			defer close(r.done)
			defer func() {
				// ecr-login panics when the AWS configuration cannot be
				// loaded (a malformed shared config file).
				if p := recover(); p != nil {
					r.err = fmt.Errorf("%v", p)
				}
			}()
			r.user, r.secret, r.err = h.get(serverURL)
		}()
	}
	h.mu.Unlock()
	select {
	case <-r.done:
	case <-time.After(h.timeout):
		// The helper goes on in the background; the run does not wait for
		// it again.
		h.mu.Lock()
		h.results[serverURL] = &helperResult{done: closed, err: fmt.Errorf("no answer within %s", h.timeout)}
		h.mu.Unlock()
		return "", "", fmt.Errorf("no answer within %s", h.timeout)
	}
	return r.user, r.secret, r.err
}

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (h *cloudHelper) failure(registry string) error {
	h.mu.Lock()
	r := h.results[registry]
	h.mu.Unlock()
	if r == nil {
		return nil
	}
	select {
	case <-r.done:
		return r.err
	default:
		return nil
	}
}

func (h *cloudHelper) Add(*credentials.Credentials) error { return errors.New("not implemented") }
func (h *cloudHelper) Delete(string) error                { return errors.New("not implemented") }
func (h *cloudHelper) List() (map[string]string, error)   { return nil, errors.New("not implemented") }

// getECR asks ecr-login for a registry's credentials. ecr-login logs why it
// failed and returns only "credentials not found", so its log is read.
func getECR(serverURL string) (string, string, error) {
	var log bytes.Buffer
	user, secret, err := ecr.NewECRHelper(ecr.WithLogger(&log)).Get(serverURL)
	if err != nil {
		if why := logrusError(log.String()); why != "" {
			return "", "", errors.New(why)
		}
	}
	return user, secret, err
}

// logrusError turns the last error line logrus wrote (key=value pairs) into
// "msg: error".
func logrusError(log string) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "level=error") {
			last = sc.Text()
		}
	}
	if last == "" {
		return ""
	}
	field := func(key string) string {
		i := strings.Index(last, " "+key+"=")
		if i < 0 {
			return ""
		}
		v := last[i+len(key)+2:]
		if strings.HasPrefix(v, `"`) {
			if q, err := strconv.QuotedPrefix(v); err == nil {
				s, _ := strconv.Unquote(q)
				return s
			}
		}
		v, _, _ = strings.Cut(v, " ")
		return v
	}
	msg, e := field("msg"), field("error")
	if e == "" {
		return msg
	}
	return msg + ": " + e
}

// googleKeychain is go-containerregistry's google.Keychain (Application
// Default Credentials, then gcloud) resolved once per run, keeping why
// neither answered; google.Keychain itself logs that only at debug level.
type googleKeychain struct {
	timeout time.Duration
	once    sync.Once
	done    chan struct{}
	auth    authn.Authenticator
	err     error
}

func (g *googleKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return g.ResolveContext(context.Background(), r)
}

func (g *googleKeychain) ResolveContext(ctx context.Context, _ authn.Resource) (authn.Authenticator, error) {
	g.once.Do(func() {
		g.done = make(chan struct{})
		go func() {
			defer close(g.done)
			// The token source keeps this context for later refreshes, so
			// it must outlive the request that first asked.
			ctx := context.WithoutCancel(ctx)
			auth, envErr := google.NewEnvAuthenticator(ctx)
			if envErr == nil && auth != authn.Anonymous {
				g.auth = auth
				return
			}
			auth, gErr := google.NewGcloudAuthenticator(ctx)
			if gErr == nil && auth != authn.Anonymous {
				g.auth = auth
				return
			}
			g.err = fmt.Errorf("application default credentials: %v; gcloud: %v", envErr, gErr)
		}()
	})
	select {
	case <-g.done:
	case <-time.After(g.timeout):
		return authn.Anonymous, nil
	case <-ctx.Done():
		return authn.Anonymous, nil
	}
	if g.auth == nil {
		return authn.Anonymous, nil
	}
	return g.auth, nil
}

func (g *googleKeychain) failure(string) error {
	if g.done == nil {
		return nil
	}
	select {
	case <-g.done:
		return g.err
	default:
		return fmt.Errorf("no answer within %s", g.timeout)
	}
}

func googleWhere(string) string {
	if f := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"); f != "" {
		return "GOOGLE_APPLICATION_CREDENTIALS=" + f
	}
	return "GOOGLE_APPLICATION_CREDENTIALS unset: gcloud's application default credentials, the metadata server, then gcloud"
}

func ecrWhere(registry string) string {
	var set []string
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_PROFILE"} {
		if os.Getenv(v) != "" {
			set = append(set, v)
		}
	}
	if len(set) == 0 {
		return "no AWS_ACCESS_KEY_ID, AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE or AWS_PROFILE: shared config files, then the instance role"
	}
	return "AWS credentials from " + strings.Join(set, ", ")
}

func acrWhere(string) string {
	var set []string
	for _, v := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_FEDERATED_TOKEN"} {
		if os.Getenv(v) != "" {
			set = append(set, v)
		}
	}
	if len(set) == 0 {
		return "no AZURE_CLIENT_ID/AZURE_TENANT_ID: managed identity"
	}
	return "Azure credentials from " + strings.Join(set, ", ")
}

// dockerConfigWhere names the file go-containerregistry's default keychain
// reads and what it holds for registry, without running any helper.
func dockerConfigWhere(registry string) string {
	path := dockerConfigPath()
	if path == "" {
		if dc := os.Getenv("DOCKER_CONFIG"); dc != "" {
			return "no " + filepath.Join(dc, "config.json")
		}
		return "no ~/.docker/config.json"
	}
	f, err := os.Open(path)
	if err != nil {
		return path + ": " + err.Error()
	}
	defer f.Close()
	cf, err := config.LoadFromReader(f)
	if err != nil {
		return path + ": " + err.Error()
	}
	return path + ", " + entry(cf, registry)
}

func entry(cf *configfile.ConfigFile, registry string) string {
	key := registry
	if registry == "index.docker.io" {
		key = authn.DefaultAuthKey
	}
	if h := cf.CredentialHelpers[key]; h != "" {
		return "credential helper docker-credential-" + h + " for " + registry
	}
	if cf.CredentialsStore != "" {
		return "credential store docker-credential-" + cf.CredentialsStore + " for " + registry
	}
	if _, ok := cf.AuthConfigs[key]; ok {
		return "entry for " + registry
	}
	for k := range cf.AuthConfigs {
		if hostname(strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")) == hostname(registry) {
			return "entry " + k + " for " + registry
		}
	}
	return "no entry for " + registry
}

// dockerConfigPath follows go-containerregistry's DefaultKeychain: the
// Docker config (DOCKER_CONFIG, else ~/.docker), else Podman's auth files.
func dockerConfigPath() string {
	home, _ := os.UserHomeDir()
	exists := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && !fi.IsDir()
	}
	homeCfg := filepath.Join(home, ".docker", "config.json")
	if dc := os.Getenv("DOCKER_CONFIG"); dc != "" && exists(filepath.Join(dc, "config.json")) {
		return filepath.Join(dc, "config.json")
	}
	if home != "" && exists(homeCfg) {
		if os.Getenv("DOCKER_CONFIG") != "" {
			// docker/cli then reads DOCKER_CONFIG, which has no file.
			return filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json")
		}
		return homeCfg
	}
	if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" && exists(p) {
		return p
	}
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" && exists(filepath.Join(x, "containers", "auth.json")) {
		return filepath.Join(x, "containers", "auth.json")
	}
	cfgDir := os.Getenv("XDG_CONFIG_HOME")
	if cfgDir == "" && home != "" {
		cfgDir = filepath.Join(home, ".config")
	}
	if cfgDir != "" && exists(filepath.Join(cfgDir, "containers", "auth.json")) {
		return filepath.Join(cfgDir, "containers", "auth.json")
	}
	return ""
}
