#!/usr/bin/env bash
# Regenerates every service's Swagger docs with swag; --check fails when the
# committed docs differ from what the code says. A service whose annotations
# need more than the defaults lists its swag arguments in .swagargs.
set -euo pipefail
cd "$(dirname "$0")/.."
SWAG=${SWAG:-swag}
check=${1:-}
status=0
for dir in services/oc-*; do
  name=${dir#services/oc-}
  args="--generalInfo service/service.go --dir ./ --parseInternal"
  [ -f "$dir/.swagargs" ] && args=$(cat "$dir/.swagargs")
  out=docs
  [ "$check" = --check ] && out=$(mktemp -d)
  # shellcheck disable=SC2086 # $args is a list of flags
  (cd "$dir" && "$SWAG" init --quiet $args --instanceName "$name" --output "$out" \
      --outputTypes go,json,yaml --packageName docs >/dev/null)
  if [ "$check" = --check ]; then
    if ! diff -r "$dir/docs" "$out" >/dev/null; then
      echo "Swagger docs of $dir are stale: run 'make swagger' and commit." >&2
      diff -r "$dir/docs" "$out" | head -20 >&2
      status=1
    fi
    rm -rf "$out"
  fi
done
exit $status
