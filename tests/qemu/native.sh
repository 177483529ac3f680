# Sourced by tests/qemu/init when run-board.sh put a native membudget binary at /bin/membudget
# (NATIVE_BINARY=...): the binary captures and checks the board on the board itself.
#   - fills the board up to 100 processes (sleepers), so the capture reads a known count;
#   - `membudget capture --smaps` under `busybox time -v`: its peak RSS (Maximum resident set
#     size) on a board of 100 processes;
#   - `membudget check` of the live board and of that capture, with the board's profile
#     (/board.toml), the latter as JSON for the test to compare with the host's analysis.
# Everything is streamed out on the console between marker lines.
# Counted by the shell's own glob: a counting child would count itself. The board's `sleep 1`
# loop comes and goes, so the count is 100 give or take that one.
set -- /proc/[0-9]*
n=$#
added=0
while [ "$n" -lt 100 ]; do
  sleep 700 &
  n=$((n + 1))
  added=$((added + 1))
done
echo "native: added=$added"
set -- /proc/[0-9]*
echo "native: processes=$#"
busybox time -v /bin/membudget capture -o /mnt/capture/native.tar.gz --smaps 2>/tmp/native-time.txt
echo "native: capture-exit=$?"
sed -n 's/^.*Maximum resident set size (kbytes): */native: peak_rss_kb=/p' /tmp/native-time.txt
/bin/membudget check -q -p /board.toml
echo "native: live-check-exit=$?"
/bin/membudget check -q -p /board.toml --format json /mnt/capture/native.tar.gz > /mnt/capture/native-check.json
echo "native: capture-check-exit=$?"
echo "=====NATIVE-CAPTURE-BEGIN====="
base64 /mnt/capture/native.tar.gz
echo "=====NATIVE-CAPTURE-END====="
echo "=====NATIVE-CHECK-BEGIN====="
base64 /mnt/capture/native-check.json
echo "=====NATIVE-CHECK-END====="
