#!/usr/bin/env bash
# Builds static membudget binaries for boards, with the release profile (sized for flash):
#
#   armv7   armv7-unknown-linux-gnueabihf, glibc linked statically (+crt-static), linked by
#           Debian's arm-linux-gnueabihf-gcc. Hard-float ARMv7 (Cortex-A5/A7/A9/A15, Zynq-7000).
#   aarch64 aarch64-unknown-linux-musl, Rust's own musl linked statically, linked by Debian's
#           aarch64-linux-gnu-gcc (the host's cc cannot link AArch64 objects).
#   mipsel  mipsel-unknown-linux-gnu, little-endian MIPS32r2 (MediaTek MT7621, Realtek), glibc
#           static, linked by Debian's mipsel-linux-gnu-gcc.
#   mips    mips-unknown-linux-gnu, big-endian MIPS32r2 (Atheros/Qualcomm QCA), the same way.
#
# Static, because boards carry old C libraries (glibc 2.21 on the Zynq fixture; a dynamic build
# needs the build machine's 2.34 or newer). Copies land in BOARDS_DIR (default target/boards) as
# membudget-BOARD.
#
# MIPS targets have had no standard library from rustup since Rust 1.72 (tier 3): they are
# built with the nightly toolchain, which compiles the standard library from its source
# (`-Z build-std`, the rust-src component). Everything else is the same release profile.
#
#   scripts/build-board-binaries.sh              # all four
#   scripts/build-board-binaries.sh aarch64      # one
#
# Needs: rustup; the Debian packages gcc-arm-linux-gnueabihf + libc6-dev-armhf-cross,
# gcc-aarch64-linux-gnu, gcc-mipsel-linux-gnu + libc6-dev-mipsel-cross and gcc-mips-linux-gnu +
# libc6-dev-mips-cross; for MIPS, `rustup toolchain install nightly --profile minimal
# --component rust-src`. The ARM targets' standard libraries are added with rustup when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BOARDS_DIR:-target/boards}
target_dir=${CARGO_TARGET_DIR:-target}
boards=("$@")
[ ${#boards[@]} -gt 0 ] || boards=(armv7 aarch64 mipsel mips)

# triple BOARD / linker BOARD: the Rust target and the cross linker of a board name.
triple() {
  case $1 in
    armv7) echo armv7-unknown-linux-gnueabihf ;;
    aarch64) echo aarch64-unknown-linux-musl ;;
    mipsel) echo mipsel-unknown-linux-gnu ;;
    mips) echo mips-unknown-linux-gnu ;;
    *) echo "build-board-binaries.sh: unknown board $1 (armv7, aarch64, mipsel, mips)" >&2; exit 2 ;;
  esac
}
linker() {
  case $1 in
    armv7) echo arm-linux-gnueabihf-gcc ;;
    aarch64) echo aarch64-linux-gnu-gcc ;;
    mipsel) echo mipsel-linux-gnu-gcc ;;
    mips) echo mips-linux-gnu-gcc ;;
  esac
}

mkdir -p "$out"
for board in "${boards[@]}"; do
  target=$(triple "$board")
  toolchain=()
  build_std=()
  case $board in
    mips*)
      sysroot=$(rustup run nightly rustc --print sysroot 2>/dev/null || true)
      if [ -z "$sysroot" ] || [ ! -d "$sysroot/lib/rustlib/src/rust/library" ]; then
        echo "build-board-binaries.sh: $board needs the nightly toolchain with rust-src" \
          "(rustup toolchain install nightly --profile minimal --component rust-src)" >&2
        exit 2
      fi
      toolchain=(+nightly)
      build_std=(-Z "build-std=std,panic_abort")
      ;;
    *)
      if ! rustup target list --installed | grep -qx "$target"; then
        rustup target add "$target"
      fi
      ;;
  esac
  cc=$(linker "$board")
  command -v "$cc" >/dev/null || {
    echo "build-board-binaries.sh: $cc missing (apt-get install gcc-${cc%-gcc} and its libc6-dev-*-cross)" >&2
    exit 2
  }
  # CARGO_TARGET_<TRIPLE>_LINKER / _RUSTFLAGS, for this target only (the host build is untouched).
  var=CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')
  # musl targets link statically already; the glibc one is told to.
  env "${var}_LINKER=$cc" "${var}_RUSTFLAGS=-C target-feature=+crt-static" \
    cargo "${toolchain[@]}" build --release --locked --bin membudget --target "$target" "${build_std[@]}"
  cp "$target_dir/$target/release/membudget" "$out/membudget-$board"
  echo "$out/membudget-$board: $(stat -c %s "$out/membudget-$board") bytes"
done
