#!/usr/bin/env bash
# Runs fuzz targets for a number of executions each (default 1,000,000)
# and prints the count each ran clean. Targets: filter, patch, normalize,
# member, json_build (scim-core) and okta_to_notion (the mapping engine).
# Needs a nightly toolchain and cargo-fuzz; installs cargo-fuzz if missing.
#   scripts/fuzz.sh [runs-per-target] [target...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-1000000}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(filter patch normalize member json_build okta_to_notion)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

seed() { # target corpus-dir
  case $1 in
    filter) grep -hv '^#' "$root"/gateway/scim-core/tests/golden/filter/*.txt | while IFS= read -r l; do
              [ -n "$l" ] && printf '%s' "$l" > "$2/seed-$(printf '%s' "$l" | sha1sum | cut -c1-12)"; done ;;
    okta_to_notion) for f in "$root"/gateway/mapper/tests/golden/ok/*.toml; do
         python3 -c "import tomllib,sys; print(tomllib.load(open(sys.argv[1],'rb'))['input'])" "$f" > "$2/seed-$(basename "$f" .toml)"; done ;;
    member) python3 - "$root/gateway/mapper/benches/okta-user.json" "$2" <<'PY'
import json, sys, hashlib
for v in json.load(open(sys.argv[1])).values():
    t = json.dumps(v)
    open(f"{sys.argv[2]}/seed-{hashlib.sha1(t.encode()).hexdigest()[:12]}", "w").write(t)
PY
       ;;
    json_build) python3 - "$root/gateway/scim-core/tests/golden/normalize" "$2" <<'PY'
import glob, json, os, sys
# The first byte is the nesting bound (0: none); the rest, a body compact and pretty.
for f in glob.glob(sys.argv[1] + "/*.json"):
    v = json.load(open(f))["input"]
    for i, t in enumerate([json.dumps(v), json.dumps(v, indent=2, ensure_ascii=False)]):
        open(f"{sys.argv[2]}/seed-{os.path.basename(f)[:-5]}-{i}", "wb").write(b"\0" + t.encode())
PY
       ;;
    *) for f in "$root"/gateway/scim-core/tests/golden/normalize/*.json; do
         python3 -c "import json,sys; c=json.load(open(sys.argv[1])); print(json.dumps(c['input']))" "$f" > "$2/seed-$(basename "$f" .json)"; done ;;
  esac
}

for t in "${targets[@]}"; do
  case $t in okta_to_notion) crate=gateway/mapper ;; *) crate=gateway/scim-core ;; esac
  cd "$root/$crate"
  corpus=fuzz/corpus/$t
  mkdir -p "$corpus"
  seed "$t" "$corpus"
  log=$(mktemp)
  cargo +nightly fuzz run "$t" -- -runs="$runs" -max_len=4096 -rss_limit_mb=2048 2>&1 | tee "$log" | grep -E '^(#[0-9]+\s+(INITED|DONE)|==|Done)' || true
  if grep -q 'Done [0-9]* runs' "$log"; then
    echo "fuzz $t: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -n1), no crash"
  else
    echo "fuzz $t: FAILED (see $log)"; exit 1
  fi
done
