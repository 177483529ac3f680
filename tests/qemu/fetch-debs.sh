#!/bin/sh
# Downloads and unpacks Debian's armhf (or arm64) kernel and static busybox into CACHE, with a
# private apt state: no foreign architecture is enabled system-wide.
# The kernel package is resolved through the meta-package (linux-image-armmp / -arm64), so the
# script survives Debian point releases that change the ABI number.
# Usage: fetch-debs.sh CACHE_DIR [armhf|arm64]
# Prints the unpacked kernel image path and busybox path on its last two lines.
set -eu
CACHE=$1
ARCH=${2:-armhf}
case $ARCH in
  armhf) FLAVOUR=armmp ;;
  arm64) FLAVOUR=arm64 ;;
  *) echo "fetch-debs.sh: unknown architecture $ARCH" >&2; exit 2 ;;
esac
mkdir -p "$CACHE/apt/lists-$ARCH/partial" "$CACHE/apt/cache-$ARCH/archives/partial" "$CACHE/debs-$ARCH"
# Tests boot boards in parallel: on a cold cache two of them would run apt on the same private
# state at once (apt's own lock makes the second fail). One fetch per architecture at a time;
# the next one waits, then finds the cache ready.
exec 9>"$CACHE/fetch-$ARCH.lock"
flock 9
[ -e "$CACHE/apt/empty-status" ] || : > "$CACHE/apt/empty-status"
apt_private() {
  tool=$1; shift
  "$tool" -q -o APT::Architecture="$ARCH" -o APT::Architectures="$ARCH" \
    -o Dir::State::Lists="$CACHE/apt/lists-$ARCH" -o Dir::Cache="$CACHE/apt/cache-$ARCH" \
    -o Dir::State::status="$CACHE/apt/empty-status" -o APT::Sandbox::User=root "$@"
}
root_kernel="$CACHE/root-kernel-$ARCH"
root_busybox="$CACHE/root-busybox-$ARCH"
if [ -f "$CACHE/ready-$ARCH" ]; then
  cat "$CACHE/ready-$ARCH"
  exit 0
fi
# The security index for armhf can fail with "File has unexpected size" while a mirror syncs;
# main is enough, so only a failure to resolve the kernel below is fatal.
apt_private apt-get update >&2 || echo "fetch-debs.sh: apt-get update reported errors (continuing)" >&2
package=$(apt_private apt-cache depends "linux-image-$FLAVOUR" | awk '/Depends: linux-image-/{print $2; exit}')
if [ -z "$package" ]; then
  echo "fetch-debs.sh: cannot resolve linux-image-$FLAVOUR for $ARCH: is Debian's archive reachable?" >&2
  exit 1
fi
(cd "$CACHE/debs-$ARCH" && apt_private apt-get download "$package" busybox-static >&2)
rm -rf "$root_kernel" "$root_busybox"
mkdir -p "$root_kernel" "$root_busybox"
dpkg -x "$(ls "$CACHE/debs-$ARCH/${package}"_*_"$ARCH".deb | head -1)" "$root_kernel"
dpkg -x "$(ls "$CACHE/debs-$ARCH"/busybox-static_*_"$ARCH".deb | head -1)" "$root_busybox"
kernel=$(ls "$root_kernel"/boot/vmlinuz-* | head -1)
modules=$(ls -d "$root_kernel"/lib/modules/* | head -1)
printf '%s\n%s\n%s\n' "$kernel" "$modules" "$root_busybox/bin/busybox" > "$CACHE/ready-$ARCH"
cat "$CACHE/ready-$ARCH"
