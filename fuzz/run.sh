#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), seeded from the repository's own
# fixtures and hostile corpus. Needs nightly, and cargo-fuzz where installed:
#   rustup toolchain install nightly && cargo install cargo-fuzz
# Without cargo-fuzz, the targets are built with the same instrumentation flags cargo-fuzz
# passes (no sanitizer) and run directly.
# Usage: fuzz/run.sh [SECONDS] [TARGET...]
# Crashes land in fuzz/artifacts/<target>/; turn each into a regression test, then fix it.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(maps smaps meminfo status profile tar dir trend)

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
# dir: records of a kind byte (0/1 file, 2 link, 3 FIFO), a path, NUL, contents, NUL.
if [ ! -d corpus/dir ] || [ -z "$(ls -A corpus/dir)" ]; then
  mkdir -p corpus/dir
  ( cd ../tests/hostile/ok-minimal && for f in meta proc/meminfo proc/mounts df proc/1/status proc/1/maps; do
      printf '\001%s\000' "$f"; cat "$f"; printf '\000'
    done; printf '\003proc/1/smaps\000\000' ) > corpus/dir/seed-minimal
fi
# trend: meta files separated by 0xff bytes.
if [ ! -d corpus/trend ] || [ -z "$(ls -A corpus/trend)" ]; then
  mkdir -p corpus/trend
  printf 'format=1\ntime=1700000000\nhost=cam\nboot_id=b1\n\377format=1\ntime=1700003600.5\nhost=cam\nboot_id=b1\n' \
    > corpus/trend/seed-series
fi

flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
flags+=" -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares"
flags+=" --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
triple=x86_64-unknown-linux-gnu
for target in "${targets[@]}"; do
  echo "== $target: ${seconds}s"
  args=(-max_total_time="$seconds" -max_len=65536 -print_final_stats=1)
  if cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo +nightly fuzz run "$target" "corpus/$target" -- "${args[@]}"
  else
    RUSTFLAGS="$flags" cargo +nightly build --release --bin "$target" --target "$triple"
    mkdir -p "artifacts/$target"
    "target/$triple/release/$target" -artifact_prefix="artifacts/$target/" "${args[@]}" "corpus/$target"
  fi
done
