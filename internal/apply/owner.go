package apply

import (
	"errors"
	"fmt"
)

// Owner is whose state driftless keeps in a namespace: one pipeline's
// environment. The ApplySet, the Lease and the release history are keyed
// by both names, so two services that share a namespace and both call an
// environment "prod" never prune, lock or roll back each other.
//
// Names join the parts with '.', which pipeline and environment names (DNS
// labels) cannot contain, so no two owners share a name.
type Owner struct {
	Pipeline  string
	Env       string
	Namespace string
}

func (o Owner) String() string { return o.Pipeline + "/" + o.Env }

func (o Owner) check() error {
	var errs []error
	for _, f := range []struct{ name, v string }{{"pipeline", o.Pipeline}, {"environment", o.Env}, {"namespace", o.Namespace}} {
		if f.v == "" {
			errs = append(errs, fmt.Errorf("the %s name is empty", f.name))
		}
	}
	return errors.Join(errs...)
}

// ApplySet is the set of objects this owner applied.
func (o Owner) ApplySet() ApplySet {
	return ApplySet{Name: "driftless." + o.Pipeline + "." + o.Env, Namespace: o.Namespace}
}

// LeaseName is the name of the Lease that serialises the owner's
// deployments.
func (o Owner) LeaseName() string { return "driftless." + o.Pipeline + "." + o.Env }

// releaseName is the name of the Secret that records revision rev.
func (o Owner) releaseName(rev int) string {
	return fmt.Sprintf("driftless.release.%s.%s.v%d", o.Pipeline, o.Env, rev)
}

// legacyApplySet is the ApplySet driftless used before names carried the
// pipeline: it is adopted, never pruned through.
func (o Owner) legacyApplySet() ApplySet {
	return ApplySet{Name: "driftless-" + o.Env, Namespace: o.Namespace}
}
