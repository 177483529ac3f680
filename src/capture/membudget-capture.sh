#!/bin/sh
# membudget-capture.sh: write a membudget snapshot (format 1) of this board.
#
# Runs under busybox ash, dash or bash with nothing but busybox applets: the boards that need
# it have no Python and often cannot run the membudget binary. It copies kernel files with
# `cat` (a tar of /proc reads every file as size 0), streams everything (no big buffers: the
# capture must not inflate the memory it measures), and writes atomically: the snapshot is
# built under a temporary name and renamed only when whole.
#
# Usage: sh membudget-capture.sh [-o OUTPUT] [--smaps | --no-smaps]
#   -o OUTPUT   NAME.tar.gz or NAME.tgz (gzip'd tar), NAME.tar (plain tar), or any other name
#               for a plain directory. Without gzip a .tar is written instead of a .tar.gz,
#               without tar a directory; the path written is printed on standard output.
#               Default: ./membudget-HOST-UNIXTIME.tar.gz
#   --smaps     also copy each process's smaps and smaps_rollup (RSS/PSS figures; bigger)
#   --no-smaps  maps only (the default)
#
# Exit status: 0 written, 2 bad usage or the output could not be written.

set -u

usage() {
	cat <<'EOF_USAGE'
usage: membudget-capture.sh [-o OUTPUT] [--smaps | --no-smaps]
  -o OUTPUT   NAME.tar.gz or NAME.tgz, NAME.tar, or another name for a plain directory
              (default ./membudget-HOST-UNIXTIME.tar.gz)
  --smaps     also copy smaps and smaps_rollup (RSS/PSS figures; bigger capture)
  --no-smaps  maps only (the default)
EOF_USAGE
}

fail() {
	echo "membudget-capture: error: $*" >&2
	exit 2
}

# Centiseconds since boot, from /proc/uptime ("12345.67 ..."), with shell builtins only.
uptime_centiseconds() {
	read -r up _ </proc/uptime || up=0.00
	whole=${up%.*}
	fraction=${up#*.}
	[ "$fraction" = "$up" ] && fraction=00
	echo $((whole * 100 + ${fraction#0}))
}

output=
smaps=0
while [ $# -gt 0 ]; do
	case $1 in
	-o | --output)
		[ $# -ge 2 ] || fail "$1 needs a path"
		output=$2
		shift 2
		;;
	-o*)
		output=${1#-o}
		shift
		;;
	--output=*)
		output=${1#--output=}
		shift
		;;
	--smaps)
		smaps=1
		shift
		;;
	--no-smaps)
		smaps=0
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		fail "unknown argument: $1"
		;;
	esac
done

started=$(uptime_centiseconds)
host=
read -r host </proc/sys/kernel/hostname 2>/dev/null || host=$(hostname 2>/dev/null)
[ -n "$host" ] || host=board
[ -n "$output" ] || output=./membudget-$host-$(date +%s).tar.gz

case $output in
*.tar.gz) format=tgz name=${output%.tar.gz} ;;
*.tgz) format=tgz name=${output%.tgz} ;;
*.tar) format=tar name=${output%.tar} ;;
*) format=dir name=${output%/} ;;
esac
command -v tar >/dev/null 2>&1 || format=dir
[ "$format" = tgz ] && ! command -v gzip >/dev/null 2>&1 && format=tar

outdir=$(dirname "$name")
base=$(basename "$name")
[ -d "$outdir" ] || fail "$outdir: no such directory"
# Everything is built inside this private directory next to the output (same filesystem, so
# the final rename is atomic) and removed on any exit.
work=$outdir/.membudget-capture.$$
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP
mkdir "$work" || fail "$outdir: cannot create a temporary directory"
snap=$work/$base
mkdir -p "$snap/proc/sys/vm" || fail "$snap: cannot create"

# RAM-backed filesystems first, while the capture's own files are still tiny: when the output
# lies on a tmpfs, the capture should not count itself. Same rules as membudget's
# Mount::is_ram_backed / is_ramfs: tmpfs, ramfs, and rootfs (ramfs unless it has a size=).
# `du -sk` of a ramfs (statfs says 0 for it); -x keeps it on that filesystem where du has -x.
ramfs_usage() {
	du -skx "$1" >>"$snap/du" 2>/dev/null || du -sk "$1" >>"$snap/du" 2>/dev/null
}

set --
: >"$snap/du"
while read -r _source point fstype options _rest; do
	case $fstype in
	tmpfs) ;;
	ramfs) ramfs_usage "$point" ;;
	rootfs)
		case $options in
		*size=*) ;;
		*) ramfs_usage "$point" ;;
		esac
		;;
	*) continue ;;
	esac
	set -- "$@" "$point"
done </proc/mounts
if [ $# -gt 0 ]; then
	df -k "$@" >"$snap/df" 2>/dev/null || [ -s "$snap/df" ] || rm -f "$snap/df"
else
	echo "Filesystem 1K-blocks Used Available Use% Mounted on" >"$snap/df"
fi

for file in meminfo mounts cmdline version sys/vm/min_free_kbytes; do
	[ -r "/proc/$file" ] && cat "/proc/$file" >"$snap/proc/$file" 2>/dev/null
done

own=$$
skipped=
# Copies one process. Returns 1 when its maps or status cannot be read whole (it vanished
# or may not be read); an empty maps is a kernel thread and is left out.
copy_process() {
	pid=$1
	src=/proc/$pid
	dst=$snap/proc/$pid
	mkdir "$dst" 2>/dev/null || return 1
	if ! cat "$src/maps" >"$dst/maps" 2>/dev/null; then
		rm -rf "$dst"
		return 1
	fi
	if [ ! -s "$dst/maps" ]; then
		rm -rf "$dst"
		return 0
	fi
	if ! cat "$src/status" >"$dst/status" 2>/dev/null || [ ! -s "$dst/status" ]; then
		rm -rf "$dst"
		return 1
	fi
	# The measuring tool is not the board's workload: this shell's children (cat, subshells).
	while read -r key value; do
		if [ "$key" = PPid: ]; then
			if [ "$value" = "$own" ]; then
				rm -rf "$dst"
				return 0
			fi
			break
		fi
	done <"$dst/status"
	optional="cmdline stat"
	[ "$smaps" = 1 ] && optional="$optional smaps smaps_rollup"
	for file in $optional; do
		cat "$src/$file" >"$dst/$file" 2>/dev/null || rm -f "$dst/$file"
	done
	return 0
}

for dir in /proc/[0-9]*; do
	pid=${dir#/proc/}
	[ "$pid" = "$own" ] && continue
	copy_process "$pid" || skipped=${skipped:+$skipped,}$pid
done

for size in /sys/block/ram*/size; do
	[ -r "$size" ] || continue
	disk=${size#/sys/block/}
	disk=${disk%/size}
	mkdir -p "$snap/sys/block/$disk" && cat "$size" >"$snap/sys/block/$disk/size"
done

if ! dmesg >"$snap/dmesg" 2>/dev/null || [ ! -s "$snap/dmesg" ]; then
	rm -f "$snap/dmesg"
fi

finished=$(uptime_centiseconds)
elapsed=$((finished - started))
{
	echo "format=1"
	echo "time=$(date +%s)"
	echo "host=$host"
	echo "uname=$(uname -s -r -v -m 2>/dev/null)"
	echo "source=membudget-capture.sh"
	echo "smaps=$smaps"
	echo "skipped=$skipped"
	printf 'capture_seconds=%d.%02d\n' $((elapsed / 100)) $((elapsed % 100))
} >"$snap/meta" || fail "$snap/meta: cannot write"

case $format in
tgz) final=$output ;;
tar) final=$name.tar ;;
*) final=$name ;;
esac

if [ "$format" = dir ]; then
	[ -e "$final" ] && fail "$final already exists: not replacing a directory"
	mv "$snap" "$final" || fail "$final: cannot rename into place"
else
	packed=$work/packed
	if [ "$format" = tgz ]; then
		# No pipefail in POSIX sh: tar's failure is recorded in a file.
		{ tar -C "$work" -cf - "$base" || : >"$work/tar-failed"; } | gzip -c >"$packed" ||
			fail "$final: gzip failed"
	else
		tar -C "$work" -cf "$packed" "$base" || : >"$work/tar-failed"
	fi
	[ -e "$work/tar-failed" ] && fail "$final: tar failed"
	mv -f "$packed" "$final" || fail "$final: cannot rename into place"
fi
[ -n "$skipped" ] && echo "membudget-capture: skipped (vanished or unreadable): $skipped" >&2
echo "membudget-capture: wrote $final in $((elapsed / 100)).$((elapsed % 100 / 10))s" >&2
echo "$final"
