#!/usr/bin/env bash
# Regenerates every service's Swagger docs with swag; --check fails when the
# committed docs differ from what the code says.
set -euo pipefail
cd "$(dirname "$0")/.."
SWAG=${SWAG:-swag}
check=${1:-}
for dir in services/oc-*; do
  name=${dir#services/oc-}
  out=docs
  if [ "$check" = --check ]; then out=$(mktemp -d); fi
  extra=""
  [ -f "$dir/.swagdirs" ] && extra=",$(cat "$dir/.swagdirs")"
  (cd "$dir" && "$SWAG" init --quiet --generalInfo service/service.go --dir "./$extra" \
      --instanceName "$name" --output "$out" --outputTypes go,json,yaml --packageName docs --parseInternal >/dev/null)
  if [ "$check" = --check ]; then
    if ! diff -r "$dir/docs" "$out" >/dev/null; then
      echo "Swagger docs of $dir are stale: run 'make swagger' and commit." >&2
      diff -r "$dir/docs" "$out" | head -20 >&2
      exit 1
    fi
    rm -rf "$out"
  fi
done
