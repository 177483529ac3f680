#!/bin/sh
# membudget-capture.sh: write a membudget snapshot (format 1) of this board.
#
# Runs under busybox ash (1.12 on), hush (1.16 on), dash or bash with the applets every
# busybox since 1.12 has (cat mkdir rm mv ls echo test tar gzip df du dmesg date); boards ship
# old, trimmed builds, so nothing else is assumed: no dirname/basename/uname/printf applet, no
# `command` builtin (ash < 1.17, hush < 1.29), no shell arithmetic (FEATURE_SH_MATH off).
# Every tool is probed by trying it, and whatever cannot be captured is said on stderr and
# listed in meta `missing=`, so the reader reports it as unknown, never as 0. A shell that
# cannot run it (hush before 1.16) is told to use ash.
#
# It copies kernel files with `cat` (a tar of /proc reads every file as size 0), streams
# them (no file is held in a shell variable: the capture must not inflate the memory it
# measures), and writes atomically: the snapshot is built in a private directory next to the
# output and renamed only when whole. `manifest` is written last and lists every file taken;
# an archive is checked against it member by member before it replaces anything.
#
# Usage: sh membudget-capture.sh [--] [-o OUTPUT] [--smaps | --no-smaps]
#   -o OUTPUT   NAME.tar.gz or NAME.tgz (gzip'd tar), NAME.tar (plain tar), or any other name
#               for a plain directory. When gzip fails a NAME.tar is written instead, when tar
#               cannot create (or loses files) the directory NAME, each with a warning; the
#               path written is printed on standard output.
#               Default: /tmp/membudget-HOST-UNIXTIME.tar.gz (/var/tmp when /tmp is not writable)
#   --smaps     also copy each process's smaps and smaps_rollup (RSS/PSS figures; bigger)
#   --no-smaps  maps only (the default)
#   --          ignored (the end of options, by convention)
#
# Exit status: 0 written; 2 bad usage, an unfit shell, a missing cat/mkdir/rm/mv/date, or an
# output that could not be written.

# hush has no `set -u` (1.17 on ignore it, 1.35 refuses it): a development aid only.
set -u 2>/dev/null

# This script is made of functions, which hush before 1.14 (or built without HUSH_FUNCTIONS)
# does not have: say so rather than fail on a syntax error.
# (hush 1.12 runs a function's body where it is defined: only a call prints the argument.)
[ "$( (eval 'probe() { echo "$1"; }; probe called') 2>/dev/null)" = called ] || {
	echo "membudget-capture: error: this shell has no functions (hush before 1.14?): run it with ash, as in: busybox ash membudget-capture.sh" >&2
	exit 2
}

usage() {
	cat <<'EOF_USAGE'
usage: membudget-capture.sh [--] [-o OUTPUT] [--smaps | --no-smaps]
  -o OUTPUT   NAME.tar.gz or NAME.tgz, NAME.tar, or another name for a plain directory
              (default /tmp/membudget-HOST-UNIXTIME.tar.gz, else in /var/tmp)
  --smaps     also copy smaps and smaps_rollup (RSS/PSS figures; bigger capture)
  --no-smaps  maps only (the default)
EOF_USAGE
}

# The private build directory; set only once this script has created it, so a failure
# before that never removes anything it does not own.
work=
fail() {
	echo "membudget-capture: error: $*" >&2
	[ -n "$work" ] && rm -rf "$work"
	exit 2
}

warn() {
	echo "membudget-capture: warning: $*" >&2
}

# Every loop here reads lines with `read -r`, so it must work, split fields and stop at the
# end of a file. hush 1.14's and 1.15's do none of this (`read -r` fails, and plain `read`
# neither splits nor ever returns false: its loops never end): stop with a clear error there.
up=
idle=
read -r up idle </proc/uptime 2>/dev/null
if [ -z "$idle" ] || read -r up </dev/null; then
	fail "this shell's read builtin is broken (hush 1.14 or 1.15?): run it with ash, as in: busybox ash membudget-capture.sh"
fi

# Shell arithmetic where it exists (FEATURE_SH_MATH can be off). `$((` is only ever written
# inside eval'd strings, so a shell without it still parses this file.
math=0
(eval 'test "$((2 * 3))" = 6') 2>/dev/null && math=1

# Centiseconds since boot, from /proc/uptime ("12345.67 ..."); empty without arithmetic.
uptime_centiseconds() {
	[ "$math" = 1 ] || return 0
	read -r up _ </proc/uptime || return 0
	# shellcheck disable=SC2034 # used in the eval'd arithmetic
	whole=${up%.*}
	fraction=${up#*.}
	[ "$fraction" = "$up" ] && fraction=00
	# "07" would be octal; and hush 1.16 fails ${fraction#0} inside $((...)) when there is
	# no 0 to strip (and its failing $(...) child then runs on through the script).
	fraction=${fraction#0}
	eval 'echo $((whole * 100 + fraction))'
}

output=
smaps=0
while [ $# -gt 0 ]; do
	case $1 in
	-o | --output)
		[ $# -ge 2 ] || fail "$1 needs a path"
		output=$2
		shift
		shift
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
	--)
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

# The applets nothing here can stand in for: without one there is no snapshot, and the error
# says which (127: the shell found no such command).
for tool in cat mkdir rm mv date; do
	"$tool" </dev/null >/dev/null 2>&1
	[ $? = 127 ] && fail "no $tool applet: the capture needs cat, mkdir, rm, mv and date"
done

started=$(uptime_centiseconds)
host=
read -r host </proc/sys/kernel/hostname 2>/dev/null || host=$(hostname 2>/dev/null)
[ -n "$host" ] || host=board

# Creates the private build directory in $1; fails quietly so the caller can try elsewhere.
make_work() {
	mkdir "$1/.membudget-capture.$$" 2>/dev/null || return 1
	work=$1/.membudget-capture.$$
}

if [ -z "$output" ]; then
	# Root filesystems are read-only on most boards (squashfs): never the current directory.
	stamp=$(date +%s 2>/dev/null)
	for outdir in /tmp /var/tmp; do
		make_work "$outdir" && break
	done
	[ -n "$work" ] || fail "neither /tmp nor /var/tmp is writable: point -o at a writable directory (for example -o /mnt/sdcard/board.tar.gz)"
	output=$outdir/membudget-$host-${stamp:-0}.tar.gz
fi

case $output in
*.tar.gz) format=tgz name=${output%.tar.gz} ;;
*.tgz) format=tgz name=${output%.tgz} ;;
*.tar) format=tar name=${output%.tar} ;;
*) format=dir name=${output%/} ;;
esac
# Parameter expansion, not dirname/basename: many boards have neither applet.
case $name in
*/*)
	outdir=${name%/*}
	base=${name##*/}
	;;
*)
	outdir=.
	base=$name
	;;
esac
[ -n "$outdir" ] || outdir=/
[ -n "$base" ] || fail "$output: no file name"
[ -d "$outdir" ] || fail "$outdir: no such directory"
# Everything is built in this private directory next to the output (same filesystem, so the
# final rename is atomic) and removed on every exit.
if [ -z "$work" ]; then
	make_work "$outdir" || fail "$outdir: cannot create a temporary directory there (read-only? point -o at a writable directory, for example /tmp)"
fi
trap 'rm -rf "$work"; exit 130' INT TERM HUP 2>/dev/null
snap=$work/snapshot
files=$work/files
mkdir "$snap" "$snap/proc" || fail "$snap: cannot create"
: >"$files" || fail "$files: cannot write"

missing=
# Records snapshot path $1 as written (for the manifest).
taken() {
	echo "file=$1" >>"$files"
}

# Records snapshot path $1 as not captured (meta missing=). Not `${missing:+$missing }`:
# hush 1.35 fails a space inside that word ("BUG in varexp2").
lost() {
	if [ -n "$missing" ]; then
		missing="$missing $1"
	else
		missing=$1
	fi
}

# Copies kernel file $1 to snapshot path $2; a failed copy is removed and listed as missing.
take() {
	if cat "$1" >"$snap/$2" 2>/dev/null; then
		taken "$2"
	else
		rm -f "$snap/$2"
		lost "$2"
	fi
}

# Like take, for files only some kernels have: absent is not missing.
take_present() {
	if [ -e "$1" ]; then
		take "$1" "$2"
	fi
}

# RAM-backed filesystems first, while the capture's own files are still tiny: when the output
# lies on a tmpfs, the capture should not count itself. Same rules as membudget's
# Mount::is_ram_backed / is_ramfs: tmpfs, ramfs, and rootfs (ramfs unless it has a size=).
# `du -sk` of a ramfs (statfs says 0 for it); -x keeps it on that filesystem where du has -x.
du_failed=0
ramfs_usage() {
	du -skx "$1" >>"$snap/du" 2>/dev/null || du -sk "$1" >>"$snap/du" 2>/dev/null || du_failed=1
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
if [ "$du_failed" = 1 ]; then
	rm -f "$snap/du"
	lost du
else
	taken du
fi
if [ $# -gt 0 ]; then
	if df -k "$@" >"$snap/df" 2>/dev/null || [ -s "$snap/df" ]; then
		taken df
	else
		rm -f "$snap/df"
		lost df
	fi
else
	echo "Filesystem 1K-blocks Used Available Use% Mounted on" >"$snap/df"
	taken df
fi

mkdir -p "$snap/proc/sys/vm" || fail "$snap/proc/sys/vm: cannot create"
for file in meminfo mounts cmdline version sys/vm/min_free_kbytes; do
	take "/proc/$file" "proc/$file"
done
for file in vmstat swaps zoneinfo modules; do
	take_present "/proc/$file" "proc/$file"
done
for file in sysvipc/shm pressure/memory; do
	if [ -e "/proc/$file" ]; then
		mkdir -p "$snap/proc/${file%/*}" && take "/proc/$file" "proc/$file"
	fi
done

# User names for the per-user view (report --by user): only `name:uid` of each line, never the
# password field or anything else, as the native capture writes it.
if [ -r /etc/passwd ] && mkdir -p "$snap/etc"; then
	if while IFS=: read -r user _password uid _rest; do
		[ -z "$user" ] || echo "$user:$uid"
	done </etc/passwd >"$snap/etc/passwd"; then
		taken etc/passwd
	else
		rm -f "$snap/etc/passwd"
		lost etc/passwd
	fi
fi

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
	got="maps status"
	unread=
	for file in $optional; do
		# smaps_rollup came with Linux 4.14: absent before, not missing.
		[ -e "$src/$file" ] || [ "$file" != smaps_rollup ] || continue
		if cat "$src/$file" >"$dst/$file" 2>/dev/null; then
			got="$got $file"
			continue
		fi
		rm -f "$dst/$file"
		# A process that exits mid-capture is skipped, not half-kept.
		if [ ! -d "$src" ]; then
			rm -rf "$dst"
			return 1
		fi
		unread="$unread $file"
	done
	for file in $got; do
		taken "proc/$pid/$file"
	done
	for file in $unread; do
		lost "proc/$pid/$file"
	done
	return 0
}

for dir in /proc/[0-9]*; do
	pid=${dir#/proc/}
	[ "$pid" = "$own" ] && continue
	copy_process "$pid" || skipped=${skipped:+$skipped,}$pid
done

# Copies the named files of every /sys/$1/*/ directory that has the first of them.
take_sys_dirs() {
	pattern=$1
	shift
	for dir in /sys/$pattern; do
		[ -e "$dir/$1" ] || continue
		rel=sys/${dir#/sys/}
		mkdir -p "$snap/$rel" || continue
		for file in "$@"; do
			take_present "$dir/$file" "$rel/$file"
		done
	done
}
take_sys_dirs 'block/ram*' size
take_sys_dirs 'block/zram*' disksize mm_stat
take_sys_dirs 'kernel/dmabuf/buffers/*' size exporter_name

# busybox before 1.15 reads only the last 16 KiB of the kernel log unless told a size: on a
# chatty boot that loses the `Memory:` line at its start.
if dmesg -s 1048576 >"$snap/dmesg" 2>/dev/null && [ -s "$snap/dmesg" ]; then
	taken dmesg
elif dmesg >"$snap/dmesg" 2>/dev/null && [ -s "$snap/dmesg" ]; then
	taken dmesg
else
	rm -f "$snap/dmesg"
	lost dmesg
fi

# `uname -s -r -v -m`, or the same words from /proc/sys/kernel (less the machine) without
# the applet.
kernel_name() {
	uname -s -r -v -m 2>/dev/null && return 0
	words=
	for file in ostype osrelease version; do
		read -r word <"/proc/sys/kernel/$file" 2>/dev/null && words="$words $word"
	done
	echo "${words# }"
}

boot_id=
read -r boot_id </proc/sys/kernel/random/boot_id 2>/dev/null || boot_id=

finished=$(uptime_centiseconds)
elapsed=
if [ -n "$started" ] && [ -n "$finished" ]; then
	eval 'took=$((finished - started)); elapsed=$((took / 100)).$((took % 100 / 10))$((took % 10))'
fi
[ -n "$missing" ] && warn "could not capture (listed in meta as missing=): $missing"
{
	echo "format=1"
	echo "time=$(date +%s)"
	echo "host=$host"
	echo "uname=$(kernel_name)"
	echo "boot_id=$boot_id"
	echo "source=membudget-capture.sh"
	echo "smaps=$smaps"
	echo "skipped=$skipped"
	echo "missing=$missing"
	echo "manifest=1"
	# Unknown without shell arithmetic: left out, not made up.
	if [ -n "$elapsed" ]; then
		echo "capture_seconds=$elapsed"
	fi
} >"$snap/meta" || fail "$snap/meta: cannot write"
taken meta

# The manifest, last: the count without arithmetic ($# of the list's words; no path has a
# space), then the list.
write_manifest() {
	# shellcheck disable=SC2046 # word splitting is the point
	set -- $(cat "$files")
	{
		echo "format=1"
		echo "files=$#"
		cat "$files"
	} >"$snap/manifest"
}
write_manifest || fail "$snap/manifest: cannot write"

# Prints the first file of the manifest that tar's member list $1 (`tar -t` output) lacks,
# "manifest" when it lacks only that, nothing when it has them all. The list is mirrored as
# empty files under $work/seen, so checking a file is one test, not a search.
first_member_lost() {
	seen=$work/seen
	if ! mkdir "$seen"; then
		echo "everything (cannot create $seen to check)"
		return 0
	fi
	while read -r member; do
		case $member in
		*/) mkdir -p "$seen/$member" 2>/dev/null ;;
		*) : >"$seen/$member" 2>/dev/null ;;
		esac
	done <"$1"
	while read -r line; do
		path=${line#file=}
		if [ ! -f "$seen/$path" ]; then
			echo "$path"
			return 0
		fi
	done <"$files"
	[ -f "$seen/manifest" ] || echo manifest
}

# Packs the snapshot into $work/packed.tar, members relative to the snapshot root (short
# paths whatever the output's name: tar without GNU extensions drops names of 100 characters
# or more, exit 0), manifest last; then lists the archive and checks every file is in it.
# Returns 1, saying why, when it cannot.
pack() {
	set -- meta
	for top in df du dmesg etc proc sys; do
		[ -e "$snap/$top" ] && set -- "$@" "$top"
	done
	if ! (cd "$snap" && tar -cf ../packed.tar "$@" manifest) 2>"$work/tar-errors"; then
		why=
		read -r why <"$work/tar-errors"
		warn "tar cannot create archives here: ${why:-it failed}"
		return 1
	fi
	if ! tar -tf "$work/packed.tar" >"$work/members" 2>/dev/null; then
		warn "tar cannot list the archive it wrote, so it cannot be checked"
		return 1
	fi
	lost_member=$(first_member_lost "$work/members")
	if [ -n "$lost_member" ]; then
		warn "tar left $lost_member out of the archive"
		return 1
	fi
	return 0
}

case $format in
tgz) final=$output ;;
tar) final=$name.tar ;;
*) final=$name ;;
esac

if [ "$format" != dir ] && ! pack; then
	format=dir
	final=$name
	warn "writing the directory $final instead of $output"
fi
# The archive holds it all: the directory is no longer needed (a RAM-backed /tmp holds one
# copy less while gzip runs).
[ "$format" = dir ] || rm -rf "$snap"
if [ "$format" = tgz ]; then
	if ! gzip -c "$work/packed.tar" >"$work/packed" 2>/dev/null; then
		format=tar
		final=$name.tar
		warn "gzip failed: writing $final instead of $output"
	fi
fi
if [ "$format" = tar ]; then
	mv -f "$work/packed.tar" "$work/packed" || fail "$work/packed: cannot rename"
fi

if [ "$format" = dir ]; then
	[ -e "$final" ] && fail "$final already exists: not replacing it with a directory"
	mv "$snap" "$final" || fail "$final: cannot rename into place"
else
	mv -f "$work/packed" "$final" || fail "$final: cannot rename into place"
fi
rm -rf "$work"
[ -n "$skipped" ] && echo "membudget-capture: skipped (vanished or unreadable): $skipped" >&2
took=
[ -n "$elapsed" ] && took=" in ${elapsed}s"
echo "membudget-capture: wrote $final$took" >&2
echo "$final"
