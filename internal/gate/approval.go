package gate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/driftless-dev/driftless/internal/step"
)

// GitHubEnvironments reads GitHub deployment environments; GitHubAPI is the
// real one.
type GitHubEnvironments interface {
	// Environment returns the environment, nil when the repository has none
	// of that name.
	Environment(ctx context.Context, owner, repo, name string) (*github.Environment, error)
	// BranchPolicies lists the environment's custom deployment branch and
	// tag policies.
	BranchPolicies(ctx context.Context, owner, repo, name string) ([]*github.DeploymentBranchPolicy, error)
}

// GitHubAPI reads environments with go-github (githubapi.New
// makes the client).
type GitHubAPI struct {
	Client *github.Client
}

// Environment reads GET /repos/{owner}/{repo}/environments/{name}.
func (g GitHubAPI) Environment(ctx context.Context, owner, repo, name string) (*github.Environment, error) {
	// go-github puts the name into the path as it is; names may hold
	// spaces.
	e, _, err := g.Client.Repositories.GetEnvironment(ctx, owner, repo, url.PathEscape(name))
	if isStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	return e, err
}

// BranchPolicies reads GET
// /repos/{owner}/{repo}/environments/{name}/deployment-branch-policies,
// every page (go-github v60 reads only the first).
func (g GitHubAPI) BranchPolicies(ctx context.Context, owner, repo, name string) ([]*github.DeploymentBranchPolicy, error) {
	var all []*github.DeploymentBranchPolicy
	for page := 1; page != 0; {
		u := fmt.Sprintf("repos/%s/%s/environments/%s/deployment-branch-policies?per_page=100&page=%d", owner, repo, url.PathEscape(name), page)
		req, err := g.Client.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		var list github.DeploymentBranchPolicyResponse
		resp, err := g.Client.Do(ctx, req, &list)
		if err != nil {
			return nil, err
		}
		all = append(all, list.BranchPolicies...)
		page = resp.NextPage
	}
	return all, nil
}

func isStatus(err error, code int) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == code
}

const howToGitHub = "Settings → Environments → %[2]s: add Required reviewers, and under Deployment branches and tags choose Selected branches and tags and add a tag rule matching the release tags (v*)"

// githubApproval is "approval: github".
func githubApproval(ctx context.Context, in Input) Result {
	r := Result{Name: "approval: github"}
	if in.CI.Provider != step.ProviderGitHub {
		r.Detail = fmt.Sprintf("this run is on %s, not GitHub Actions: approval: github relies on a GitHub environment's required reviewers; run the step in a job with `environment: %s`", provider(in.CI.Provider), ciEnv(in))
		return r
	}
	if in.GitHub == nil {
		r.Detail = "no GitHub API access to read the environment's protection rules: pass the workflow's GITHUB_TOKEN (with `permissions: actions: read`)"
		return r
	}
	owner, repo, ok := strings.Cut(in.CI.Repository, "/")
	if !ok || owner == "" || repo == "" {
		r.Detail = fmt.Sprintf("GitHub repository %q is not owner/name (GITHUB_REPOSITORY)", in.CI.Repository)
		return r
	}
	name := ciEnv(in)
	where := fmt.Sprintf("GitHub environment %q of %s", name, in.CI.Repository)
	env, err := in.GitHub.Environment(ctx, owner, repo, name)
	if err != nil {
		r.Detail = fmt.Sprintf("reading %s: %v%s", where, err, permissionHint(err))
		return r
	}
	if env == nil {
		r.Detail = fmt.Sprintf("%s does not exist. GitHub creates an environment without any protection rules the first time a job names it, so nothing would hold this deployment for approval. Create it: "+howToGitHub, where, name)
		return r
	}

	var problems, reviewers []string
	preventSelf := false
	for _, rule := range env.ProtectionRules {
		if rule.GetType() != "required_reviewers" {
			continue
		}
		preventSelf = preventSelf || rule.GetPreventSelfReview()
		for _, rv := range rule.Reviewers {
			reviewers = append(reviewers, reviewerName(rv))
		}
	}
	if len(reviewers) == 0 {
		problems = append(problems, fmt.Sprintf("it has no required reviewers (Settings → Environments → %s → Required reviewers: add at least one person or team)", name))
	}

	version := in.Version
	if version == "" {
		version = in.CI.Tag
	}
	var admitted string
	switch bp := env.DeploymentBranchPolicy; {
	case bp == nil:
		problems = append(problems, "every branch and tag may deploy to it (Deployment branches and tags: choose Selected branches and tags and add a tag rule such as v*)")
	case bp.GetProtectedBranches():
		problems = append(problems, "only protected branches may deploy to it, and GitHub does not let release tags deploy to such an environment (choose Selected branches and tags with a tag rule such as v*)")
	case bp.GetCustomBranchPolicies():
		policies, err := in.GitHub.BranchPolicies(ctx, owner, repo, name)
		if err != nil {
			r.Detail = fmt.Sprintf("reading the deployment branch and tag policies of %s: %v%s", where, err, permissionHint(err))
			return r
		}
		var tags []string
		for _, p := range policies {
			// Policies made before GitHub had tag rules have no type:
			// they are branch rules.
			if p.GetType() != "tag" {
				continue
			}
			tags = append(tags, p.GetName())
			if admitted == "" && version != "" && fnmatch(p.GetName(), version) {
				admitted = p.GetName()
			}
		}
		switch {
		case version == "":
			problems = append(problems, "there is no release tag to check against its tag rules (the build is not for a tag)")
		case admitted == "" && len(tags) == 0:
			problems = append(problems, fmt.Sprintf("it has no tag rule, so the release tag %s may not deploy (add a tag rule such as v*)", version))
		case admitted == "":
			problems = append(problems, fmt.Sprintf("none of its tag rules (%s) matches the release tag %s", strings.Join(tags, ", "), version))
		}
	default:
		problems = append(problems, "its deployment branch policy restricts nothing GitHub reports")
	}
	if len(problems) > 0 {
		r.Detail = fmt.Sprintf("%s does not hold deployments for approval: %s", where, strings.Join(problems, "; "))
		return r
	}
	r.Passed = true
	r.Detail = fmt.Sprintf("%s requires a review by %s; its tag rule %q admits %s", where, strings.Join(reviewers, ", "), admitted, version)
	if !preventSelf {
		r.Detail += "; note: whoever starts the run may approve it (enable Prevent self-review)"
	}
	if env.GetCanAdminsBypass() {
		r.Detail += "; note: administrators may bypass the rules (clear Allow administrators to bypass)"
	}
	return r
}

func reviewerName(rv *github.RequiredReviewer) string {
	switch who := rv.Reviewer.(type) {
	case *github.User:
		if who.GetLogin() != "" {
			return who.GetLogin()
		}
	case *github.Team:
		if who.GetSlug() != "" {
			return "team " + who.GetSlug()
		}
	}
	return "a " + strings.ToLower(rv.GetType())
}

func permissionHint(err error) string {
	if isStatus(err, http.StatusForbidden) || isStatus(err, http.StatusUnauthorized) {
		return " (the token needs `permissions: actions: read` to read environments)"
	}
	return ""
}

// gitlabApproval is "approval: gitlab".
func gitlabApproval(in Input) Result {
	r := Result{Name: "approval: gitlab"}
	name := ciEnv(in)
	if in.CI.Provider != step.ProviderGitLab {
		r.Detail = fmt.Sprintf("this run is on %s, not GitLab CI: approval: gitlab relies on GitLab's protected environment %q; run the step in a job with `environment: %s`", provider(in.CI.Provider), name, name)
		return r
	}
	var problems []string
	switch got := in.CI.Environment; {
	case got == "":
		problems = append(problems, fmt.Sprintf("the job names no environment (add `environment: {name: %s, action: start}`: GitLab applies a protected environment's rules only to jobs that name it)", name))
	case got != name:
		problems = append(problems, fmt.Sprintf("the job deploys to GitLab environment %q, not %q", got, name))
	}
	if a := in.Getenv("CI_ENVIRONMENT_ACTION"); a != "" && a != "start" {
		problems = append(problems, fmt.Sprintf("the job's environment action is %q: GitLab asks for approval only for action: start", a))
	}
	ref := in.CI.Tag
	if ref == "" {
		ref = in.CI.Branch
	}
	if in.Getenv("CI_COMMIT_REF_PROTECTED") != "true" {
		problems = append(problems, fmt.Sprintf("the ref %q is not protected (protect the release tags: Settings → Repository → Protected tags, v*)", ref))
	}
	if len(problems) > 0 {
		r.Detail = "the GitLab job is not gated by a protected environment: " + strings.Join(problems, "; ")
		return r
	}
	r.Passed = true
	r.Detail = fmt.Sprintf("the job deploys to GitLab environment %q from protected ref %q; who may deploy and approve is the protected environment's setting, which the job token cannot read", name, ref)
	return r
}

func ciEnv(in Input) string {
	if in.CIEnvironment != "" {
		return in.CIEnvironment
	}
	return in.Environment.Name
}

func provider(p string) string {
	switch p {
	case step.ProviderGitHub:
		return "GitHub Actions"
	case step.ProviderGitLab:
		return "GitLab CI"
	case "", step.ProviderLocal:
		return "a local machine"
	}
	return p
}

// fnmatch matches GitHub's deployment branch and tag patterns, Ruby's
// File.fnmatch syntax: * matches anything but /, ** anything, ? one
// character but /, [...] a character class ([!...] or [^...] negated).
func fnmatch(pattern, name string) bool {
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			if i+1 < len(pattern) && pattern[i+1] == '*' {
				re.WriteString(".*")
				i++
			} else {
				re.WriteString("[^/]*")
			}
		case '?':
			re.WriteString("[^/]")
		case '[':
			j := strings.IndexByte(pattern[i+1:], ']')
			if j < 0 {
				re.WriteString(`\[`)
				continue
			}
			class := pattern[i+1 : i+1+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			re.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		case '\\':
			if i+1 < len(pattern) {
				i++
				re.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
			}
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	m, err := regexp.MatchString(re.String(), name)
	return err == nil && m
}
