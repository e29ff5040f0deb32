//go:build tools

// Package tools pins the Kubernetes API server and kubectl as this module's dependencies, so that
// go.sum records every module their builds need; peers/build.mjs builds the main packages in peer.json.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
