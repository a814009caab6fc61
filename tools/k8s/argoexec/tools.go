//go:build tools

// Package tools pins Argo's executor, which scripts/cluster.sh builds from
// this module for the test cluster's real node.
package tools

import _ "github.com/argoproj/argo-workflows/v3/cmd/argoexec"
