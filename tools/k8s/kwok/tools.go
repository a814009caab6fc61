//go:build tools

// Package tools pins kwok's command, which scripts/cluster.sh builds from
// this module, so that `go mod tidy` keeps its dependencies.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
