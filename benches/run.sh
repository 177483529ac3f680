#!/usr/bin/env bash
# Performance figures of issue #7, each against a reference measured in the same run.
#
# Every figure and its reference run alternately (ref, figure, ref, figure...) REPS times, so
# load from other jobs on the machine hits both alike; the table shows medians, the ratio of
# the medians, and the figure's peak RSS (/usr/bin/time). Generated snapshots are cached in
# BENCH_DIR (delete it after changing the generator).
#
#   benches/run.sh                       # all figures
#   REPS=9 BIG_PROCESSES=21000 benches/run.sh
#   PROFILE=profiling benches/run.sh     # the build profilers use (release + debug info)
#   MB=/path/to/membudget benches/run.sh # another build of membudget (e.g. an older release)
#   GEN=target/debug/examples/gen_snapshot benches/run.sh   # skip building the generator
#   ONLY=export REPS=3 benches/run.sh      # only the figures whose name contains "export"
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-5}
WORK=${BENCH_DIR:-/tmp/membudget-bench}
BIG_PROCESSES=${BIG_PROCESSES:-21000}   # about 500 MB of maps+smaps+status
SERIES=${SERIES:-500}
SERIES_PROCESSES=${SERIES_PROCESSES:-200}
PROFILE=${PROFILE:-release}
FLEET=${FLEET:-1000}                    # export: snapshots of 200 processes, 6 devices
ONLY=${ONLY:-}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
mkdir -p "$WORK"

for tool in /usr/bin/time smem bc taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install time smem bc)" >&2; exit 2; }
done

if [ -z "${MB:-}" ]; then
  cargo build --profile "$PROFILE" -q --bin membudget
  MB=$CARGO_TARGET_DIR/$PROFILE/membudget
fi
if [ -z "${GEN:-}" ]; then
  cargo build --release -q --example gen_snapshot
  GEN=$CARGO_TARGET_DIR/release/examples/gen_snapshot
fi

gen() { # gen OUT ARGS... : generate once
  local out=$1; shift
  [ -e "$out" ] || "$GEN" --out "$out" "$@"
}
# want NAME: whether ONLY selects the figure (or generated input) NAME.
want() { [[ -z $ONLY || $1 == *"$ONLY"* ]]; }
if want analyse || want smem || want threads; then
  gen "$WORK/s2000" --processes 2000 --format dir
  gen "$WORK/s2000.tar.gz" --processes 2000 --format tar.gz
fi
if want big.tar || want threads; then gen "$WORK/big.tar" --processes "$BIG_PROCESSES" --format tar; fi
if want instructions; then gen "$WORK/s200.tar" --processes 200 --format tar; fi
if want trend; then gen "$WORK/series" --processes "$SERIES_PROCESSES" --series "$SERIES"; fi
if want export; then gen "$WORK/fleet$FLEET" --processes 200 --fleet "$FLEET"; fi

# run CMD: wall microseconds and peak RSS (kB) of a shell command; exit 0 or 1 is success
# (report/check say "over budget" with 1).
run() {
  local t0 t1 rc
  t0=$(date +%s%N)
  set +e
  /usr/bin/time -f %M -o "$WORK/.rss" bash -c "$1" >/dev/null 2>"$WORK/.err"
  rc=$?
  set -e
  t1=$(date +%s%N)
  if [ $rc -gt 1 ]; then
    echo "failed ($rc): $1" >&2; cat "$WORK/.err" >&2; exit 1
  fi
  echo "$(( (t1 - t0) / 1000 )) $(tail -n1 "$WORK/.rss")"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# compare NAME TARGET REF_CMD FIG_CMD: alternate, then print one table row.
compare() {
  local name=$1 target=$2 ref=$3 fig=$4 i
  want "$name" || return 0
  : >"$WORK/.ref"; : >"$WORK/.fig"; : >"$WORK/.figrss"
  run "$ref" >/dev/null; run "$fig" >/dev/null   # warm the page cache for both
  for ((i = 0; i < REPS; i++)); do
    run "$ref" | awk '{print $1}' >>"$WORK/.ref"
    run "$fig" | tee >(awk '{print $2}' >>"$WORK/.figrss") | awk '{print $1}' >>"$WORK/.fig"
  done
  sleep 0.1
  local r f rss
  r=$(median <"$WORK/.ref"); f=$(median <"$WORK/.fig"); rss=$(median <"$WORK/.figrss")
  printf '%-44s %10.1f %10.1f %8.2f %9.1f  %s\n' "$name" "$(echo "$f/1000" | bc -l)" \
    "$(echo "$r/1000" | bc -l)" "$(echo "$f/$r" | bc -l)" "$(echo "$rss/1024" | bc -l)" "$target"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
for input in s2000 big.tar series "fleet$FLEET"; do
  if [ -e "$WORK/$input" ]; then
    echo "input $input: $(du -s --apparent-size -m "$WORK/$input" | cut -f1) MB in $(find "$WORK/$input" -type f | wc -l) files"
  fi
done
echo "membudget: $MB ($(stat -c %s "$MB") bytes); REPS=$REPS; times are medians in ms; ratio = figure / reference"
printf '%-44s %10s %10s %8s %9s  %s\n' figure fig_ms ref_ms ratio peak_MiB target
PSS="-p benches/pss.toml"

compare "analyse 2000 procs, dir  vs cat of its files" "<= 2" \
  "find $WORK/s2000 -type f -exec cat {} + >/dev/null" \
  "$MB report $WORK/s2000 $PSS"
compare "analyse 2000 procs, .tar.gz vs tar -xzO" "<= 2" \
  "tar -xzOf $WORK/s2000.tar.gz >/dev/null" \
  "$MB report $WORK/s2000.tar.gz $PSS"
compare "analyse big.tar vs cat big.tar" "RSS <= 64 MiB" \
  "cat $WORK/big.tar >/dev/null" \
  "$MB report $WORK/big.tar $PSS"
compare "analyse big.tar vs grep -c Pss big.tar" "<= 1.5" \
  "grep -c Pss $WORK/big.tar >$WORK/.grep" \
  "$MB report $WORK/big.tar $PSS"
# One thread against two: `taskset -c 0` leaves one core, so `available_parallelism` is 1 and
# the one-thread path runs (ratio < 1: two threads are faster; the target is 1/1.6 = 0.63).
compare "big.tar, two threads vs one" "<= 0.63" \
  "taskset -c 0 $MB report $WORK/big.tar $PSS" \
  "$MB report $WORK/big.tar $PSS"
compare "analyse 2000 procs, dir, two threads vs one" "<= 0.63" \
  "taskset -c 0 $MB report $WORK/s2000 $PSS" \
  "$MB report $WORK/s2000 $PSS"
compare "smem PSS table vs membudget (ratio = speedup)" ">= 100" \
  "$MB report $WORK/s2000 $PSS --top 100000" \
  "smem -S $WORK/s2000"
compare "smem PSS table vs cat (ceiling for the above)" "" \
  "find $WORK/s2000 -type f -exec cat {} + >/dev/null" \
  "smem -S $WORK/s2000"
compare "live capture --smaps (.tar) vs cat same files" "<= 1.2" \
  "cat /proc/meminfo /proc/mounts /proc/cmdline /proc/version /proc/sys/vm/min_free_kbytes /proc/[0-9]*/{maps,status,cmdline,stat,smaps,smaps_rollup} >$WORK/live.cat 2>/dev/null; true" \
  "$MB capture -o $WORK/live.tar --smaps"
compare "trend over $SERIES x $SERIES_PROCESSES vs zcat" "seconds" \
  "cat $WORK/series/*.tar.gz | gzip -dc >/dev/null" \
  "$MB trend $WORK/series"
# The export writes 330 MB of tables per run: each run starts from an empty directory.
compare "export $FLEET x 200 procs (.tar.gz) vs cat | gzip -dc" "<= 1.5, RSS < 128 MiB" \
  "cat $WORK/fleet$FLEET/*.tar.gz | gzip -dc >/dev/null" \
  "rm -rf $WORK/tables && $MB export $WORK/fleet$FLEET -o $WORK/tables"

# Instructions per input byte (callgrind counts them exactly, whatever the load): the figure
# the issue #18 changes were chosen and judged by. valgrind runs the threads one at a time.
if want instructions && command -v valgrind >/dev/null; then
  # On one core (`taskset -c 0`): the one-thread path, whose count is the parse work alone
  # (valgrind runs threads one at a time, and the hand-over would be counted too).
  taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$WORK/.callgrind" \
    "$MB" report "$WORK/s200.tar" -p benches/pss.toml >/dev/null 2>"$WORK/.cg"
  ir=$(sed -n 's/.*refs: *//p' "$WORK/.cg" | tr -d ,)
  bytes=$(stat -c %s "$WORK/s200.tar")
  printf '%-44s %10s instructions, %s bytes: %.1f per byte  %s\n' \
    "instructions per byte, 200-proc tar" "$ir" "$bytes" "$(echo "$ir/$bytes" | bc -l)" "<= 10"
fi
