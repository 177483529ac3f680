#!/usr/bin/env bash
# Two builds of membudget head to head on the benchmark snapshots of benches/run.sh (run it
# first: it generates them into BENCH_DIR). Each workload runs OLD, NEW, OLD, NEW... REPS times
# and the table gives the median CPU time (user + system) of each and NEW / OLD. CPU time rather
# than wall time, because this machine is shared: other jobs stretch wall time by 2-3x, CPU
# time much less; alternation spreads what remains over both builds alike.
#
#   benches/compare-builds.sh OLD_BINARY NEW_BINARY
#   REPS=9 BENCH_DIR=/tmp/mb-bench benches/compare-builds.sh old/membudget target/release/membudget
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY" >&2; exit 2; }
OLD=$1
NEW=$2
REPS=${REPS:-5}
WORK=${BENCH_DIR:-/tmp/membudget-bench}
for f in s2000 s2000.tar.gz big.tar series; do
  [ -e "$WORK/$f" ] || { echo "missing $WORK/$f: run benches/run.sh first (same BENCH_DIR)" >&2; exit 2; }
done

# cpu BINARY ARGS...: user + system seconds of one run (exit 0 or 1 is success).
cpu() {
  local rc=0
  /usr/bin/time -f '%U %S' -o "$WORK/.cpu" "$@" >/dev/null 2>"$WORK/.err" || rc=$?
  if [ $rc -gt 1 ]; then
    echo "failed ($rc): $*" >&2; cat "$WORK/.err" >&2; exit 1
  fi
  awk '{ printf "%.3f\n", $1 + $2 }' "$WORK/.cpu"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# row NAME ARGS...: alternate the two builds on membudget ARGS, print medians and the ratio.
row() {
  local name=$1 i old new
  shift
  : >"$WORK/.old"; : >"$WORK/.new"
  for ((i = 0; i < REPS; i++)); do
    cpu "$OLD" "$@" >>"$WORK/.old"
    cpu "$NEW" "$@" >>"$WORK/.new"
  done
  old=$(median <"$WORK/.old"); new=$(median <"$WORK/.new")
  printf '%-36s %8.3f %8.3f %6.2f\n' "$name" "$old" "$new" "$(echo "$new / $old" | bc -l)"
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); REPS=$REPS; CPU seconds, medians"
echo "old: $OLD ($(stat -c %s "$OLD") bytes)"
echo "new: $NEW ($(stat -c %s "$NEW") bytes)"
printf '%-36s %8s %8s %6s\n' workload old_s new_s new/old
PSS=(-p benches/pss.toml)
row "report s2000 (dir, smaps)" report "$WORK/s2000" "${PSS[@]}"
row "report s2000.tar.gz" report "$WORK/s2000.tar.gz" "${PSS[@]}"
row "report big.tar" report "$WORK/big.tar" "${PSS[@]}"
row "report s2000 --format json" report "$WORK/s2000" "${PSS[@]}" --format json
row "trend series" trend "$WORK/series"
row "capture --smaps (this machine)" capture -o "$WORK/ab-capture.tar" --smaps
