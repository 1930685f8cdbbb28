#!/usr/bin/env bash
# Runs every fuzz target of scim-core for a number of executions each
# (default 1,000,000) and prints the count each ran clean.
# Needs a nightly toolchain and cargo-fuzz; installs cargo-fuzz if missing.
#   scripts/fuzz.sh [runs-per-target] [target...]
set -euo pipefail
cd "$(dirname "$0")/../gateway/scim-core"
runs=${1:-1000000}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(filter patch normalize)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for t in "${targets[@]}"; do
  corpus=fuzz/corpus/$t
  mkdir -p "$corpus"
  # Seed with the golden inputs: real IdP requests and the RFC's filters.
  case $t in
    filter) grep -hv '^#' tests/golden/filter/*.txt | while IFS= read -r l; do
              [ -n "$l" ] && printf '%s' "$l" > "$corpus/seed-$(printf '%s' "$l" | sha1sum | cut -c1-12)"; done ;;
    *) for f in tests/golden/normalize/*.json; do
         python3 -c "import json,sys; c=json.load(open(sys.argv[1])); print(json.dumps(c['input']))" "$f" > "$corpus/seed-$(basename "$f" .json)"; done ;;
  esac
  log=$(mktemp)
  cargo +nightly fuzz run "$t" -- -runs="$runs" -max_len=4096 -rss_limit_mb=2048 2>&1 | tee "$log" | grep -E '^(#[0-9]+\s+(INITED|DONE)|==|Done)' || true
  if grep -q 'Done [0-9]* runs' "$log"; then
    echo "fuzz $t: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -n1), no crash"
  else
    echo "fuzz $t: FAILED (see $log)"; exit 1
  fi
done
