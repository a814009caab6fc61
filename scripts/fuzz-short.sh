#!/usr/bin/env bash
# Runs every Fuzz target of the given modules for $FUZZTIME each.
set -euo pipefail
: "${FUZZTIME:=5s}"
for mod in "$@"; do
  while IFS= read -r file; do
    pkg="./$(dirname "${file#"$mod"/}")"
    for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
      echo "== fuzz $mod $pkg $target ($FUZZTIME)"
      (cd "$mod" && go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg")
    done
  done < <(grep -rl --include='*_test.go' -E '^func Fuzz' "$mod" || true)
done
