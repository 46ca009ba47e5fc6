package static

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/driftless-dev/driftless/internal/configrev"
)

// DefaultDir is where the image carries the static configuration.
const DefaultDir = "/var/portal-api/static"

// The files of a static configuration directory.
const (
	APIsDir     = "apis"
	PlansFile   = "plans.yaml"
	GroupsFile  = "groups.yaml"
	RoutingFile = "routing.yaml"
)

// Config is a loaded and checked static configuration.
type Config struct {
	// Revision is the configuration revision of the directory, as computed
	// by configrev.
	Revision string
	// APIs are sorted by name.
	APIs    []API
	Plans   []Plan
	Groups  []Group
	Routing Routing
}

// API is one API definition, from apis/<name>.yaml.
type API struct {
	Name        string   `yaml:"name" json:"name"`
	Title       string   `yaml:"title" json:"title"`
	Description string   `yaml:"description,omitempty" json:"description,omitempty"`
	Version     string   `yaml:"version" json:"version"`
	BasePath    string   `yaml:"basePath" json:"basePath"`
	Backend     string   `yaml:"backend" json:"backend"`
	Groups      []string `yaml:"groups" json:"groups"`
}

// Plan is a subscription plan, from plans.yaml.
type Plan struct {
	Name      string    `yaml:"name" json:"name"`
	Title     string    `yaml:"title" json:"title"`
	RateLimit RateLimit `yaml:"rateLimit" json:"rateLimit"`
}

// RateLimit allows Requests per Per, with bursts of up to Burst requests.
type RateLimit struct {
	Requests int    `yaml:"requests" json:"requests"`
	Per      string `yaml:"per" json:"per"`
	Burst    int    `yaml:"burst,omitempty" json:"burst,omitempty"`
}

// Group is a group of consumers, from groups.yaml.
type Group struct {
	Name  string `yaml:"name" json:"name"`
	Title string `yaml:"title" json:"title"`
	// Plans are the plans members of the group may subscribe to.
	Plans []string `yaml:"plans" json:"plans"`
}

// Routing is the gateway routing, from routing.yaml.
type Routing struct {
	Hosts  []string `yaml:"hosts" json:"hosts"`
	Routes []Route  `yaml:"routes" json:"routes"`
}

// Route sends requests under PathPrefix to an API.
type Route struct {
	PathPrefix string `yaml:"pathPrefix" json:"pathPrefix"`
	API        string `yaml:"api" json:"api"`
	Timeout    string `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// ratePeriods are the values RateLimit.Per accepts.
var ratePeriods = []string{"second", "minute", "hour", "day"}

var (
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	versionRE = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
	pathRE    = regexp.MustCompile(`^/[a-z0-9/_.-]*$`)
	backendRE = regexp.MustCompile(`^https?://[^\s/]+(/\S*)?$`)
	hostRE    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)
	timeoutRE = regexp.MustCompile(`^[1-9][0-9]*(ms|s|m)$`)
)

// Load reads the static configuration in dir, checks it, and computes its
// revision with configrev.Dir. The error lists every problem found.
func Load(dir string) (*Config, error) {
	// One clear error for a missing directory, rather than one per file.
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("loading static configuration from %q: %w", dir, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("loading static configuration from %q: not a directory", dir)
	}
	cfg, err := load(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("loading static configuration from %q: %w", dir, err)
	}
	// configrev also refuses symlinks and other non-regular files, which
	// have no place in a static configuration.
	if cfg.Revision, err = configrev.Dir(dir); err != nil {
		return nil, fmt.Errorf("loading static configuration: %w", err)
	}
	return cfg, nil
}

// LoadFS is Load for a configuration at the root of fsys; the revision comes
// from configrev.FS.
func LoadFS(fsys fs.FS) (*Config, error) {
	cfg, err := load(fsys)
	if err != nil {
		return nil, fmt.Errorf("loading static configuration: %w", err)
	}
	if cfg.Revision, err = configrev.FS(fsys); err != nil {
		return nil, fmt.Errorf("loading static configuration: %w", err)
	}
	return cfg, nil
}

func load(fsys fs.FS) (*Config, error) {
	var cfg Config
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	apis, err := readAPIs(fsys)
	add(err)
	cfg.APIs = apis

	var plans struct {
		Plans []Plan `yaml:"plans"`
	}
	add(decodeFile(fsys, PlansFile, &plans))
	cfg.Plans = plans.Plans

	var groups struct {
		Groups []Group `yaml:"groups"`
	}
	add(decodeFile(fsys, GroupsFile, &groups))
	cfg.Groups = groups.Groups

	add(decodeFile(fsys, RoutingFile, &cfg.Routing))

	// Cross-references are only worth checking once every file parsed;
	// otherwise a syntax error would show up again as dangling references.
	if len(errs) == 0 {
		errs = append(errs, cfg.check()...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func readAPIs(fsys fs.FS) ([]API, error) {
	entries, err := fs.ReadDir(fsys, APIsDir)
	if err != nil {
		return nil, fmt.Errorf("reading API definitions: %w", err)
	}
	var apis []API
	var errs []error
	for _, e := range entries {
		p := path.Join(APIsDir, e.Name())
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".yaml") {
			errs = append(errs, fmt.Errorf("%s: unexpected entry: %s/ holds only <name>.yaml files", p, APIsDir))
			continue
		}
		var a API
		if err := decodeFile(fsys, p, &a); err != nil {
			errs = append(errs, err)
			continue
		}
		if want := strings.TrimSuffix(e.Name(), ".yaml"); a.Name != want {
			errs = append(errs, fmt.Errorf("%s: name %q does not match the file name: want %q", p, a.Name, want))
		}
		apis = append(apis, a)
	}
	if len(apis) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s/: no API definitions", APIsDir))
	}
	return apis, errors.Join(errs...)
}

// decodeFile decodes exactly one YAML document from name into v, refusing
// unknown fields so that a typo cannot silently drop a setting.
func decodeFile(fsys fs.FS, name string, v any) error {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: empty file", name)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: more than one YAML document", name)
	}
	return nil
}

func (c *Config) check() []error {
	var errs []error
	bad := func(file, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", file, fmt.Sprintf(format, args...)))
	}

	plans := map[string]bool{}
	for i, p := range c.Plans {
		at := fmt.Sprintf("plans[%d]", i)
		if !nameRE.MatchString(p.Name) {
			bad(PlansFile, "%s.name %q: want lowercase letters, digits and dashes, starting with a letter", at, p.Name)
		}
		if plans[p.Name] {
			bad(PlansFile, "%s.name %q: defined twice", at, p.Name)
		}
		plans[p.Name] = true
		if p.Title == "" {
			bad(PlansFile, "%s.title: required", at)
		}
		if p.RateLimit.Requests < 1 {
			bad(PlansFile, "%s.rateLimit.requests %d: want at least 1", at, p.RateLimit.Requests)
		}
		if !slices.Contains(ratePeriods, p.RateLimit.Per) {
			bad(PlansFile, "%s.rateLimit.per %q: want one of %s", at, p.RateLimit.Per, strings.Join(ratePeriods, ", "))
		}
		if p.RateLimit.Burst < 0 {
			bad(PlansFile, "%s.rateLimit.burst %d: want 0 or more", at, p.RateLimit.Burst)
		}
	}
	if len(c.Plans) == 0 {
		bad(PlansFile, "plans: at least one plan is required")
	}

	groups := map[string]bool{}
	for i, g := range c.Groups {
		at := fmt.Sprintf("groups[%d]", i)
		if !nameRE.MatchString(g.Name) {
			bad(GroupsFile, "%s.name %q: want lowercase letters, digits and dashes, starting with a letter", at, g.Name)
		}
		if groups[g.Name] {
			bad(GroupsFile, "%s.name %q: defined twice", at, g.Name)
		}
		groups[g.Name] = true
		if g.Title == "" {
			bad(GroupsFile, "%s.title: required", at)
		}
		if len(g.Plans) == 0 {
			bad(GroupsFile, "%s.plans: at least one plan is required", at)
		}
		for _, p := range g.Plans {
			if !plans[p] {
				bad(GroupsFile, "%s.plans: unknown plan %q: want one of %s", at, p, list(plans))
			}
		}
	}
	if len(c.Groups) == 0 {
		bad(GroupsFile, "groups: at least one group is required")
	}

	apis := map[string]bool{}
	basePaths := map[string]string{}
	for _, a := range c.APIs {
		file := path.Join(APIsDir, a.Name+".yaml")
		if !nameRE.MatchString(a.Name) {
			bad(file, "name %q: want lowercase letters, digits and dashes, starting with a letter", a.Name)
		}
		apis[a.Name] = true
		if a.Title == "" {
			bad(file, "title: required")
		}
		if !versionRE.MatchString(a.Version) {
			bad(file, "version %q: want MAJOR.MINOR.PATCH, for example 1.2.0", a.Version)
		}
		if !pathRE.MatchString(a.BasePath) || strings.HasSuffix(a.BasePath, "/") {
			bad(file, "basePath %q: want an absolute path without a trailing slash, for example /orders/v1", a.BasePath)
		} else if other, ok := basePaths[a.BasePath]; ok {
			bad(file, "basePath %q: already used by API %q", a.BasePath, other)
		}
		basePaths[a.BasePath] = a.Name
		if !backendRE.MatchString(a.Backend) {
			bad(file, "backend %q: want an http:// or https:// URL", a.Backend)
		}
		if len(a.Groups) == 0 {
			bad(file, "groups: at least one group is required")
		}
		for _, g := range a.Groups {
			if !groups[g] {
				bad(file, "groups: unknown group %q: want one of %s", g, list(groups))
			}
		}
	}

	if len(c.Routing.Hosts) == 0 {
		bad(RoutingFile, "hosts: at least one host is required")
	}
	for i, h := range c.Routing.Hosts {
		if !hostRE.MatchString(h) {
			bad(RoutingFile, "hosts[%d] %q: want a lowercase DNS name", i, h)
		}
	}
	prefixes := map[string]bool{}
	for i, r := range c.Routing.Routes {
		at := fmt.Sprintf("routes[%d]", i)
		if !pathRE.MatchString(r.PathPrefix) {
			bad(RoutingFile, "%s.pathPrefix %q: want an absolute path", at, r.PathPrefix)
		}
		if prefixes[r.PathPrefix] {
			bad(RoutingFile, "%s.pathPrefix %q: routed twice", at, r.PathPrefix)
		}
		prefixes[r.PathPrefix] = true
		if !apis[r.API] {
			bad(RoutingFile, "%s.api: unknown API %q: want one of %s", at, r.API, list(apis))
		}
		if r.Timeout != "" && !timeoutRE.MatchString(r.Timeout) {
			bad(RoutingFile, "%s.timeout %q: want a positive whole number of ms, s or m, for example 10s", at, r.Timeout)
		}
	}
	return errs
}

func list(set map[string]bool) string {
	if len(set) == 0 {
		return "(none defined)"
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, fmt.Sprintf("%q", n))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// API returns the API named name.
func (c *Config) API(name string) (API, bool) {
	i := slices.IndexFunc(c.APIs, func(a API) bool { return a.Name == name })
	if i < 0 {
		return API{}, false
	}
	return c.APIs[i], true
}

// Plan returns the plan named name.
func (c *Config) Plan(name string) (Plan, bool) {
	i := slices.IndexFunc(c.Plans, func(p Plan) bool { return p.Name == name })
	if i < 0 {
		return Plan{}, false
	}
	return c.Plans[i], true
}

// APINames returns the names of all APIs, sorted.
func (c *Config) APINames() []string {
	names := make([]string, len(c.APIs))
	for i, a := range c.APIs {
		names[i] = a.Name
	}
	return names
}

// PlanNames returns the names of all plans, in file order.
func (c *Config) PlanNames() []string {
	names := make([]string, len(c.Plans))
	for i, p := range c.Plans {
		names[i] = p.Name
	}
	return names
}

// PlansFor returns the names of the plans offered for the API named api:
// those of the groups the API allows, in plans.yaml order. It returns nil
// for an unknown API.
func (c *Config) PlansFor(api string) []string {
	a, ok := c.API(api)
	if !ok {
		return nil
	}
	offered := map[string]bool{}
	for _, g := range c.Groups {
		if slices.Contains(a.Groups, g.Name) {
			for _, p := range g.Plans {
				offered[p] = true
			}
		}
	}
	var names []string
	for _, p := range c.Plans {
		if offered[p.Name] {
			names = append(names, p.Name)
		}
	}
	return names
}

// CheckRequest reports whether a subscription of api on plan is possible
// under this configuration, and if not, why, listing the valid choices.
func (c *Config) CheckRequest(api, plan string) error {
	var errs []error
	_, apiOK := c.API(api)
	switch {
	case api == "":
		errs = append(errs, fmt.Errorf("api: required: want one of %s", quoteAll(c.APINames())))
	case !apiOK:
		errs = append(errs, fmt.Errorf("unknown api %q: want one of %s", api, quoteAll(c.APINames())))
	}
	_, planOK := c.Plan(plan)
	switch {
	case plan == "":
		errs = append(errs, fmt.Errorf("plan: required: want one of %s", quoteAll(c.PlanNames())))
	case !planOK:
		errs = append(errs, fmt.Errorf("unknown plan %q: want one of %s", plan, quoteAll(c.PlanNames())))
	}
	if apiOK && planOK {
		if offered := c.PlansFor(api); !slices.Contains(offered, plan) {
			errs = append(errs, fmt.Errorf("plan %q is not offered for api %q: want one of %s", plan, api, quoteAll(offered)))
		}
	}
	return errors.Join(errs...)
}

func quoteAll(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
