#!/usr/bin/env bash
# Runs every Fuzz target of the given modules for $FUZZTIME each.
#
# Go 1.26's fuzzing coordinator can end a run that found nothing with a bare
# "context deadline exceeded" when -fuzztime runs out while a worker is busy
# (go.dev/issue/75804, fixed in Go 1.27). A run that fails that way and
# writes no failing input is run again (three runs at most); any other failure, or a failing
# input written to testdata/fuzz, fails at once.
set -euo pipefail
: "${FUZZTIME:=5s}"
fuzz_one() { # mod pkg target
  local dir="$1/$2/testdata/fuzz/$3" before after out rc
  before=$(ls "$dir" 2>/dev/null | sort || true)
  set +e
  out=$(cd "$1" && go test -run='^$' -fuzz="^$3\$" -fuzztime="$FUZZTIME" "$2" 2>&1)
  rc=$?
  set -e
  printf '%s\n' "$out"
  [ "$rc" -eq 0 ] && return 0
  after=$(ls "$dir" 2>/dev/null | sort || true)
  if [ "$before" = "$after" ] && grep -q '^    context deadline exceeded$' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
    echo "== fuzz $3: the coordinator's deadline race (go.dev/issue/75804), no failing input: run again"
    return 2
  fi
  return 1
}
for mod in "$@"; do
  while IFS= read -r file; do
    pkg="./$(dirname "${file#"$mod"/}")"
    for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
      echo "== fuzz $mod $pkg $target ($FUZZTIME)"
      for attempt in 1 2 3; do
        rc=0
        fuzz_one "$mod" "$pkg" "$target" || rc=$?
        [ "$rc" -eq 2 ] || break
      done
      [ "$rc" -eq 0 ] || exit 1
    done
  done < <(grep -rl --include='*_test.go' -E '^func Fuzz' "$mod" || true)
done
