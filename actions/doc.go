// Package actions holds driftless's GitHub Actions: one composite action
// per step (actions/<step>/action.yml, generated from the step's definition
// by internal/step), and install.sh, which each of them and the root
// action.yml run first to provide the binaries. There is no Go code here;
// the tests run install.sh against a release server on 127.0.0.1 serving
// archives built from this repository, as GitHub serves driftless's releases.
package actions
