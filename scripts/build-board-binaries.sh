#!/usr/bin/env bash
# Builds static membudget binaries for boards, with the release profile (sized for flash):
#
#   armv7   armv7-unknown-linux-gnueabihf, glibc linked statically (+crt-static), linked by
#           Debian's arm-linux-gnueabihf-gcc. Hard-float ARMv7 (Cortex-A5/A7/A9/A15, Zynq-7000).
#   aarch64 aarch64-unknown-linux-musl, Rust's own musl linked statically, linked by Debian's
#           aarch64-linux-gnu-gcc (the host's cc cannot link AArch64 objects).
#
# Static, because boards carry old C libraries (glibc 2.21 on the Zynq fixture; a dynamic build
# needs the build machine's 2.34 or newer). Copies land in BOARDS_DIR (default target/boards) as
# membudget-armv7 and membudget-aarch64. MIPS is not built: rustup ships no standard library
# for any MIPS target (tier 3 since Rust 1.72); docs/performance.md says what would be needed.
#
#   scripts/build-board-binaries.sh              # both
#   scripts/build-board-binaries.sh aarch64      # one
#
# Needs: rustup and the Debian packages gcc-arm-linux-gnueabihf and gcc-aarch64-linux-gnu. The
# targets' standard libraries are added with rustup when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BOARDS_DIR:-target/boards}
target_dir=${CARGO_TARGET_DIR:-target}
boards=("$@")
[ ${#boards[@]} -gt 0 ] || boards=(armv7 aarch64)

# triple BOARD / linker BOARD: the Rust target and the cross linker of a board name.
triple() {
  case $1 in
    armv7) echo armv7-unknown-linux-gnueabihf ;;
    aarch64) echo aarch64-unknown-linux-musl ;;
    *) echo "build-board-binaries.sh: unknown board $1 (armv7, aarch64)" >&2; exit 2 ;;
  esac
}
linker() {
  case $1 in
    armv7) echo arm-linux-gnueabihf-gcc ;;
    aarch64) echo aarch64-linux-gnu-gcc ;;
  esac
}

mkdir -p "$out"
for board in "${boards[@]}"; do
  target=$(triple "$board")
  if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
  fi
  cc=$(linker "$board")
  command -v "$cc" >/dev/null || {
    echo "build-board-binaries.sh: $cc missing (apt-get install gcc-${cc%-gcc})" >&2
    exit 2
  }
  # CARGO_TARGET_<TRIPLE>_LINKER / _RUSTFLAGS, for this target only (the host build is untouched).
  var=CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')
  # musl targets link statically already; the glibc one is told to.
  env "${var}_LINKER=$cc" "${var}_RUSTFLAGS=-C target-feature=+crt-static" cargo build --release --locked --bin membudget --target "$target"
  cp "$target_dir/$target/release/membudget" "$out/membudget-$board"
  echo "$out/membudget-$board: $(stat -c %s "$out/membudget-$board") bytes"
done
