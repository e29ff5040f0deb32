//go:build tools

// Package tools pins Istio's agent (pilot-agent) as this module's dependency, so that go.sum records
// every module its build needs; peers/build.mjs builds the main package named in peer.json.
package tools

import _ "istio.io/istio/pilot/cmd/pilot-agent"
