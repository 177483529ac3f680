#!/usr/bin/env bash
# Builds a static busybox from Debian's busybox source package in one configuration of the
# capture script's compatibility matrix (tests/capture_matrix.rs) and prints the binary's path.
# Builds are cached under $MEMBUDGET_BUSYBOX_CACHE (default ~/.cache/membudget-busybox): a
# variant is built once per cache.
#
# Usage: build-busybox.sh VARIANT
#   common         the applets the capture script needs and nothing else (docs/capture.md)
#   fullhan        the applet set of the Fullhan FH8856 cameras (tests/fixtures/real/fullhan-*):
#                  no dirname, basename, uname, printf, head, cut, find
#   no-gnu-tar     common, tar without GNU extensions (drops names of 100 characters or more)
#   no-tar-create  common, an extract-only tar
#   no-printf      common, no printf applet and no printf builtin in ash or hush
#   no-command     common, no `command` builtin in ash (ASH_CMDCMD) or hush (HUSH_COMMAND)
#   no-math        common, no shell arithmetic (FEATURE_SH_MATH)
# Each has both shells: `busybox ash` and `busybox hush`. Missing applets (gzip, tar, dmesg...)
# need no build of their own: the test leaves them out of the PATH.
set -euo pipefail

variant=${1:?usage: build-busybox.sh VARIANT}
cache=${MEMBUDGET_BUSYBOX_CACHE:-$HOME/.cache/membudget-busybox}
common="CAT MKDIR RM MV LS ECHO TEST TAR GZIP DF DU DMESG DATE"
fullhan="$common TEST1 TEST2 AWK CHMOD CP DD ENV FALSE FREE GREP EGREP FGREP GUNZIP HOSTNAME
  KILL LN PS PWD SED SLEEP SYNC TAIL TOUCH TRUE WC ZCAT LSMOD MOUNT UMOUNT USLEEP"
off=
applets=$common
case $variant in
common) ;;
fullhan) applets=$fullhan ;;
no-gnu-tar) off="FEATURE_TAR_GNU_EXTENSIONS" ;;
no-tar-create) off="FEATURE_TAR_CREATE" ;;
no-printf) off="PRINTF ASH_PRINTF HUSH_PRINTF" ;;
no-command) off="ASH_CMDCMD HUSH_COMMAND" ;;
no-math) off="FEATURE_SH_MATH" ;;
*)
  echo "build-busybox.sh: unknown variant $variant" >&2
  exit 2
  ;;
esac

# The source: Debian's busybox source package (CI reaches Debian's archive), fetched with apt
# into the cache with an index of its own (no change to the machine's apt configuration).
source_tree() {
  local apt="$cache/apt"
  local opts=(-q -o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache")
  local tree
  tree=$(ls -d "$cache"/src/busybox-*/ 2>/dev/null | head -n1 || true)
  if [ -z "$tree" ]; then
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$cache/src"
    local suite
    suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    echo "deb-src http://deb.debian.org/debian $suite main" >"$apt/sources.list"
    apt-get "${opts[@]}" update >&2
    (cd "$cache/src" && apt-get "${opts[@]}" source --download-only busybox >&2)
    tar -xf "$cache"/src/busybox_*.orig.tar.* -C "$cache/src"
    tree=$(ls -d "$cache"/src/busybox-*/ | head -n1)
  fi
  echo "${tree%/}"
}

# Sets CONFIG_$1 to $2 (y or n) in .config (busybox's kconfig keeps the first line of a symbol,
# so the line is replaced, not appended).
set_option() {
  sed -i -e "/^CONFIG_$1=/d" -e "/^# CONFIG_$1 is not set/d" .config
  if [ "$2" = y ]; then
    echo "CONFIG_$1=y" >>.config
  else
    echo "# CONFIG_$1 is not set" >>.config
  fi
}

# The features of the chosen applets and shells: allnoconfig turned them off too; forgetting
# them makes oldconfig give them their defaults, as a board's build would have.
feature_prefixes="ASH_ HUSH_ SH_ FEATURE_SH_ FEATURE_TAR_ FEATURE_GZIP_ FEATURE_DF_ FEATURE_DU_
  FEATURE_DMESG_ FEATURE_LS_ FEATURE_FANCY_ECHO FEATURE_DATE_ FEATURE_TEST_ FEATURE_PS_"

build() {
  local src=$1 out=$2
  rm -rf "$out"
  mkdir -p "$out"
  cd "$out"
  make -s -C "$src" O="$out" allnoconfig >/dev/null
  for option in STATIC LFS BUSYBOX SHOW_USAGE ASH HUSH $applets; do
    set_option "$option" y
  done
  for prefix in $feature_prefixes; do
    sed -i "/^# CONFIG_$prefix.* is not set/d" .config
  done
  # New options (the shells' features, tar's) take their defaults, as a board's build would.
  (yes "" || true) | make -s oldconfig >/dev/null 2>&1
  for option in $off; do
    set_option "$option" n
  done
  (yes "" || true) | make -s oldconfig >/dev/null 2>&1
  for option in $off; do
    if grep -q "^CONFIG_$option=y" .config; then
      echo "build-busybox.sh: $variant: could not turn $option off" >&2
      exit 1
    fi
  done
  make -s -j"$(nproc)" busybox >build.log 2>&1 || {
    tail -n 30 build.log >&2
    exit 1
  }
}

src=$(source_tree)
version=${src##*/busybox-}
# The cache key names what decides the configuration, so a changed variant is rebuilt.
key=$(echo "$applets|$off|$feature_prefixes" | md5sum | cut -c1-8)
out="$cache/build/$version-$variant-$key"
if [ ! -x "$out/busybox" ]; then
  build "$src" "$out.tmp"
  rm -rf "$out"
  mv "$out.tmp" "$out"
fi
echo "$out/busybox"
