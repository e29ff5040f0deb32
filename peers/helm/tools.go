//go:build tools

// Package tools pins the Helm CLI as this module's dependency, so that go.sum records every module
// its build needs; peers/build.mjs builds the main package named in peer.json.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
