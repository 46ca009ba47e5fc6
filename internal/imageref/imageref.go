package imageref

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Container is a container found in an object.
type Container struct {
	// Path is the field path of the container: spec.template.spec.containers[0].
	Path  string
	Name  string
	Image string
}

// Containers finds every container, init container and ephemeral container
// anywhere in an object (built-in workloads, CronJobs, and custom resources
// that embed pod specs alike).
func Containers(obj map[string]any) []Container {
	var out []Container
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch t := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(t)) {
				child := t[k]
				p := k
				if path != "" {
					p = path + "." + k
				}
				if k == "containers" || k == "initContainers" || k == "ephemeralContainers" {
					if list, ok := child.([]any); ok {
						for i, item := range list {
							if c, ok := item.(map[string]any); ok {
								img, _ := c["image"].(string)
								n, _ := c["name"].(string)
								out = append(out, Container{Path: fmt.Sprintf("%s[%d]", p, i), Name: n, Image: img})
							}
						}
						continue
					}
				}
				walk(child, p)
			}
		case []any:
			for i, item := range t {
				walk(item, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(obj, "")
	return out
}

// Split splits an image reference, as written, into its repository, tag
// and digest.
func Split(image string) (repo, tag, digest string) {
	repo, digest, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	return repo, tag, digest
}

// Runs reports whether image, as written in a container, is one of repos
// (ignoring its tag or digest).
func Runs(image string, repos []string) bool {
	repo, _, _ := Split(image)
	return slices.Contains(repos, repo)
}

// AnyRuns reports whether any container of the objects runs one of repos.
func AnyRuns(objs []map[string]any, repos []string) bool {
	for _, o := range objs {
		for _, c := range Containers(o) {
			if Runs(c.Image, repos) {
				return true
			}
		}
	}
	return false
}
