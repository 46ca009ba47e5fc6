package apply

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// ID names an object as Kind/namespace/name (Kind/name when cluster-scoped).
func ID(u *unstructured.Unstructured) string {
	if ns := u.GetNamespace(); ns != "" {
		return u.GetKind() + "/" + ns + "/" + u.GetName()
	}
	return u.GetKind() + "/" + u.GetName()
}

// Parse reads a multi-document YAML stream of objects.
func Parse(data []byte) ([]*unstructured.Unstructured, error) {
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for i := 0; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("document %d: not a Kubernetes object (apiVersion, kind and metadata.name are required)", i+1)
		}
		out = append(out, u)
	}
}

// Stage is a step of the staged apply.
type Stage int

// The stages, in apply order.
const (
	StageNamespaces Stage = iota // Namespaces and CRDs, waited until established
	StageConfig                  // storage, config, RBAC, ServiceAccounts (PVCs before any workload)
	StageServices                // Services
	StageWorkloads               // workloads
	StageRest                    // everything else
)

var stageNames = []string{"namespaces and CRDs", "storage, configuration, RBAC", "services", "workloads", "the rest"}

func (s Stage) String() string { return stageNames[s] }

var stageOf = map[string]Stage{
	"Namespace": StageNamespaces, "CustomResourceDefinition": StageNamespaces,
	"StorageClass": StageConfig, "PersistentVolume": StageConfig, "PersistentVolumeClaim": StageConfig,
	"ConfigMap": StageConfig, "Secret": StageConfig, "ServiceAccount": StageConfig,
	"Role": StageConfig, "ClusterRole": StageConfig, "RoleBinding": StageConfig, "ClusterRoleBinding": StageConfig,
	"ResourceQuota": StageConfig, "LimitRange": StageConfig, "PriorityClass": StageConfig, "NetworkPolicy": StageConfig,
	"Service":    StageServices,
	"Deployment": StageWorkloads, "StatefulSet": StageWorkloads, "DaemonSet": StageWorkloads, "ReplicaSet": StageWorkloads,
	"Job": StageWorkloads, "CronJob": StageWorkloads, "Pod": StageWorkloads, "ReplicationController": StageWorkloads,
}

// StageOf returns the stage an object is applied in.
func StageOf(u *unstructured.Unstructured) Stage {
	if s, ok := stageOf[u.GetKind()]; ok {
		return s
	}
	return StageRest
}

// Stages groups objects by stage, keeping their order within a stage.
func Stages(objs []*unstructured.Unstructured) [][]*unstructured.Unstructured {
	out := make([][]*unstructured.Unstructured, len(stageNames))
	sorted := append([]*unstructured.Unstructured(nil), objs...)
	sort.SliceStable(sorted, func(i, j int) bool { return StageOf(sorted[i]) < StageOf(sorted[j]) })
	for _, u := range sorted {
		s := StageOf(u)
		out[s] = append(out[s], u)
	}
	return out
}
