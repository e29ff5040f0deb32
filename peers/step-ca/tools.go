//go:build tools

// Package tools pins smallstep's step-ca server as this module's dependency, so that go.sum records
// every module its build needs; peers/build.mjs builds the main package named in peer.json.
package tools

import _ "github.com/smallstep/certificates/cmd/step-ca"
