package validate

import (
	"reflect"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
)

// builtinScopes says, for every kind client-go 1.34 has a typed client for,
// whether its objects live in a namespace. It is read off the clientset
// rather than written down: a namespaced resource's getter takes the
// namespace (Pods(namespace string)), a cluster-scoped one takes nothing
// (Namespaces()), exactly as client-gen generates them from the API types'
// +genclient:nonNamespaced tags, which is the scope the API server serves.
var builtinScopes = sync.OnceValue(func() map[schema.GroupKind]bool {
	scopes := map[schema.GroupKind]bool{
		// Served by kube-apiserver but not in client-go's clientset.
		{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: false,
		{Group: "apiregistration.k8s.io", Kind: "APIService"}:             false,
		// Created through PodExpansion.Bind, not a getter of its own.
		{Kind: "Binding"}: true,
	}
	clientset := reflect.TypeFor[kubernetes.Interface]()
	for i := range clientset.NumMethod() {
		group := clientset.Method(i).Type
		if group.NumIn() != 0 || group.NumOut() != 1 || group.Out(0).Kind() != reflect.Interface {
			continue // Discovery() and the like
		}
		resources := group.Out(0)
		for j := range resources.NumMethod() {
			getter := resources.Method(j).Type
			if getter.NumOut() != 1 || getter.Out(0).Kind() != reflect.Interface {
				continue // RESTClient()
			}
			gk, ok := kindOf(getter.Out(0))
			if !ok {
				continue
			}
			scopes[gk] = getter.NumIn() == 1
		}
	}
	return scopes
})

// kindOf returns the kind a typed resource client serves: the type its Get
// (or, for create-only resources such as TokenReview, Create) returns.
func kindOf(client reflect.Type) (schema.GroupKind, bool) {
	for _, verb := range []string{"Get", "Create"} {
		m, ok := client.MethodByName(verb)
		if !ok || m.Type.NumOut() != 2 || m.Type.Out(0).Kind() != reflect.Pointer {
			continue
		}
		obj, ok := reflect.New(m.Type.Out(0).Elem()).Interface().(runtime.Object)
		if !ok {
			continue
		}
		gvks, _, err := scheme.Scheme.ObjectKinds(obj)
		if err != nil || len(gvks) == 0 {
			continue
		}
		return gvks[0].GroupKind(), true
	}
	return schema.GroupKind{}, false
}
