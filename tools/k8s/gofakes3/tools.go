//go:build tools

// Package tools pins gofakes3, the S3 server (no signature checks, memory
// backend) that scripts/cluster.sh builds for tests.
package tools

import _ "github.com/johannesboyne/gofakes3/cmd/gofakes3"
