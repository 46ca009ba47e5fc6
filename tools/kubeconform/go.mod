// Module kubeconform pins yannh/kubeconform, the Kubernetes manifest
// validator bench/validate runs side by side with validate-config on the
// same objects (kubeconform -strict with JSON schemas generated locally
// from the Kubernetes OpenAPI). It is its own module so its dependencies
// never reach driftless's or the other tools'.
module github.com/driftless-dev/driftless/tools/kubeconform

go 1.26.0

require github.com/yannh/kubeconform v0.7.0

require (
	github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
	github.com/hashicorp/go-retryablehttp v0.7.7 // indirect
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.1 // indirect
	golang.org/x/text v0.25.0 // indirect
	sigs.k8s.io/yaml v1.4.0 // indirect
)
