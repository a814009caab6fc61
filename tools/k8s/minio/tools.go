//go:build tools

// Package tools pins MinIO, the S3 server that checks request signatures,
// which scripts/cluster.sh builds for tests as a separate program.
package tools

import _ "github.com/minio/minio"
