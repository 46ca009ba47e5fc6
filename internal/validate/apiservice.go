package validate

import (
	"bytes"
	"encoding/json"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// apiService mirrors kube-aggregator's apiregistration.k8s.io/v1 APIService
// (k8s.io/kube-aggregator v0.34), which driftless is not built with: enough
// to refuse unknown fields and wrong types as the API server's strict
// decoding does.
type apiService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Service *struct {
			Namespace string `json:"namespace,omitempty"`
			Name      string `json:"name,omitempty"`
			Port      *int32 `json:"port,omitempty"`
		} `json:"service,omitempty"`
		Group                 string `json:"group,omitempty"`
		Version               string `json:"version,omitempty"`
		InsecureSkipTLSVerify bool   `json:"insecureSkipTLSVerify,omitempty"`
		CABundle              []byte `json:"caBundle,omitempty"`
		GroupPriorityMinimum  int32  `json:"groupPriorityMinimum"`
		VersionPriority       int32  `json:"versionPriority"`
	} `json:"spec"`
	Status json.RawMessage `json:"status,omitempty"`
}

// checkAPIService decodes an APIService strictly. The remaining checks
// (name, labels) are the common ones.
func (c *checker) checkAPIService(o *object, data []byte) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s apiService
	err := dec.Decode(&s)
	if err == nil {
		return
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name := strings.Trim(field, `"`)
		path := ""
		for _, p := range []string{name, "spec." + name, "spec.service." + name, "metadata." + name} {
			if lookupPath(o.content, p) != nil {
				path = p
				break
			}
		}
		c.add(o, Error, path, "unknown field %q (not in %s %s)", name, o.apiVersion, o.kind)
		return
	}
	c.decodeError(o, err)
}

// lookupPath looks up a dotted path of map keys.
func lookupPath(m map[string]any, dotted string) any {
	return lookup(m, strings.Split(dotted, ".")...)
}
