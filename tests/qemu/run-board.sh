#!/bin/bash
# Boots the emulated ARM board with membudget's capture script and extracts its capture.
# Usage: run-board.sh CAPTURE_SCRIPT OUT_DIR [armhf|arm64]
# Writes OUT_DIR/board.tar.gz (the capture), OUT_DIR/console.log, OUT_DIR/timing.txt.
# Environment: MEMBUDGET_QEMU_CACHE (download cache, default ~/.cache/membudget-qemu),
#              MEM (MiB, default 256), APPEND (extra kernel arguments, default cma=24M),
#              NATIVE_BINARY (a static membudget for the board: it then also captures and
#              checks the board itself, tests/qemu/native.sh; its output goes to
#              OUT_DIR/native.tar.gz, OUT_DIR/native-check.json and OUT_DIR/native.txt).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SCRIPT=$1
OUT=$2
ARCH=${3:-armhf}
CACHE=${MEMBUDGET_QEMU_CACHE:-$HOME/.cache/membudget-qemu}
MEM=${MEM:-256}
APPEND=${APPEND:-cma=24M}
mkdir -p "$OUT"
# Not `mapfile < <(fetch-debs.sh)`: a process substitution hides the fetch's failure.
if ! fetch_output=$("$HERE/fetch-debs.sh" "$CACHE" "$ARCH"); then
  echo "run-board.sh: fetching Debian's $ARCH kernel and busybox into $CACHE failed (above)" >&2
  exit 1
fi
mapfile -t fetched < <(printf '%s\n' "$fetch_output" | tail -3)
kernel=${fetched[0]}
modules=${fetched[1]}
busybox=${fetched[2]}

# initramfs: static busybox, our init, the capture script under test, the brd module.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib/modules" "$stage/dev" "$stage/proc" "$stage/sys" "$stage/tmp"
cp "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
cp "$HERE/init" "$stage/init"
cp "$SCRIPT" "$stage/membudget-capture.sh"
chmod 755 "$stage/init" "$stage/membudget-capture.sh"
if [ -n "${NATIVE_BINARY:-}" ]; then
  cp "$NATIVE_BINARY" "$stage/bin/membudget"
  cp "$HERE/native.sh" "$stage/native.sh"
  cp "$HERE/../../budgets/qemu-virt-armhf-256m.toml" "$stage/board.toml"
  chmod 755 "$stage/bin/membudget"
fi
# The kernel modules init loads: the ramdisk driver, and zram with its allocator.
for module in brd zsmalloc zram; do
  found=$(find "$modules" -name "$module.ko*" | head -1)
  case $found in
    *.ko) cp "$found" "$stage/lib/modules/$module.ko" ;;
    *.ko.xz) xz -dc "$found" > "$stage/lib/modules/$module.ko" ;;
    *) echo "run-board.sh: no $module module under $modules" >&2; exit 1 ;;
  esac
done
(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$OUT/initramfs.cpio.gz"

case $ARCH in
  armhf) qemu=(qemu-system-arm -M virt -cpu cortex-a15) ;;
  arm64) qemu=(qemu-system-aarch64 -M virt -cpu cortex-a53) ;;
esac
qemu+=(-kernel "$kernel" -initrd "$OUT/initramfs.cpio.gz" -m "$MEM" -smp 1 -nographic
       -no-reboot -nic none -append "console=ttyAMA0 panic=-1 $APPEND")
start=$(date +%s.%N)
timeout "${TIMEOUT:-240}" "${qemu[@]}" < /dev/null > "$OUT/console.log" 2>&1 || {
  echo "run-board.sh: qemu failed or timed out (exit $?); console log: $OUT/console.log" >&2
  exit 1
}
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "wall_seconds=%.1f\n", b - a }' > "$OUT/timing.txt"
# between NAME FILE: the base64 block between =====NAME-BEGIN===== and =====NAME-END=====.
between() {
  tr -d '\r' < "$OUT/console.log" | sed -n "/^=====$1-BEGIN=====\$/,/^=====$1-END=====\$/p" \
    | grep -v '^=====' | base64 -d > "$2"
}
between CAPTURE "$OUT/board.tar.gz"
if [ ! -s "$OUT/board.tar.gz" ]; then
  echo "run-board.sh: no capture in the console log: $OUT/console.log" >&2
  exit 1
fi
if [ -n "${NATIVE_BINARY:-}" ]; then
  between NATIVE-CAPTURE "$OUT/native.tar.gz"
  between NATIVE-CHECK "$OUT/native-check.json"
  tr -d '\r' < "$OUT/console.log" | sed -n 's/^native: //p' > "$OUT/native.txt"
fi
cat "$OUT/timing.txt"
