#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), seeded from the repository's own
# fixtures and hostile corpus. Needs nightly and cargo-fuzz:
#   rustup toolchain install nightly && cargo install cargo-fuzz
# Usage: fuzz/run.sh [SECONDS] [TARGET...]
# Crashes land in fuzz/artifacts/<target>/; turn each into a regression test, then fix it.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(maps smaps meminfo status profile tar)

seed() { # target, then files to copy in
  local target="$1"; shift
  mkdir -p "corpus/$target"
  local f
  for f in "$@"; do
    [ -f "$f" ] && cp "$f" "corpus/$target/seed-$(echo "$f" | tr '/' '_')"
  done
  return 0
}
shopt -s nullglob globstar
seed maps ../tests/hostile/**/maps ../tests/fixtures/**/maps
seed smaps ../tests/hostile/**/smaps ../tests/hostile/**/smaps_rollup ../tests/fixtures/**/smaps
seed meminfo ../tests/hostile/**/meminfo ../tests/fixtures/**/meminfo
seed status ../tests/hostile/**/status ../tests/fixtures/**/status
seed profile ../tests/hostile/profiles/*.toml ../budgets/*.toml
if [ ! -d corpus/tar ] || [ -z "$(ls -A corpus/tar)" ]; then
  mkdir -p corpus/tar
  tar -C ../tests/hostile/ok-minimal -cf corpus/tar/seed-minimal.tar .
  tar -C ../tests/hostile/ok-minimal -czf corpus/tar/seed-minimal.tar.gz .
fi

for target in "${targets[@]}"; do
  echo "== $target: ${seconds}s"
  cargo +nightly fuzz run "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -print_final_stats=1
done
