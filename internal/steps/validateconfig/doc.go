// Package validateconfig is the validate-config step: it checks the pipeline spec, the static
// configuration, every environment's rendered overlay and every object in
// it. See docs/steps/validate-config.md.
package validateconfig
