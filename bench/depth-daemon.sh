#!/usr/bin/env bash
# The real daemon under a queue deeper than its heap (issue 16), as it ships: the packaged JVM
# options (packaging/src/bin/relaybox: -Xmx256m) and the default configuration (only the listen
# address, the queue directory, the control socket, the metrics listener and one upstream are
# set). The upstream is down (the sink answers 421) while TOTAL x 1 KiB messages arrive over 10
# kept connections. Prints, every STEP messages: the accept rate, the heap after a full GC, the
# RSS, a metrics scrape's time, and `relaybox queue list`'s time to its first line (through the
# packaged wrapper with its class-data archives, as an operator runs it) and to its end with the
# CLI's heap capped at 32 MiB (CLI_CAP). At the full depth: --json, a filter that
# walks everything, --limit, stats, and --offline once the daemon is stopped. Then: the time
# from starting the JVM to the first accepted message after a clean stop, and after a kill -9
# in the middle of accepting; and, with the upstream back, the drain: its rate, the daemon's
# CPU per message and how busy the host was.
#
#   mvn -q -B -DskipTests package && bench/depth-daemon.sh
# Environment: TOTAL (default 2000000), STEP (500000), BENCH_DIR (a fresh directory), RB_JAR.
# Needs smtp-source (apt-get install postfix), curl and jcmd. 2,000,000 take about 45 minutes on
# a 2-core machine and 3 GB of disk.
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL=${TOTAL:-2000000}
STEP=${STEP:-500000}
RB_JAR=${RB_JAR:-admin-cli/target/relaybox.jar}
W=${BENCH_DIR:-$(mktemp -d /var/tmp/relaybox-depth.XXXXXX)}
RB_PORT=2525 SINK_PORT=2699 METRICS_PORT=2698
for c in smtp-source curl jcmd; do command -v $c >/dev/null || { echo "needs $c" >&2; exit 1; }; done
[ -f "$RB_JAR" ] || { echo "build first: mvn -q -B -DskipTests package" >&2; exit 1; }
RB_JAVA_OPTS=$(sed -n 's/^RELAYBOX_JAVA_OPTS="\(.*\)"$/\1/p' packaging/src/bin/relaybox)
CLI_JAVA_OPTS=$(sed -n 's/^RELAYBOX_CLI_JAVA_OPTS="\(.*\)"$/\1/p' packaging/src/bin/relaybox)

sink_pid= rb_pid= src_pid=
cleanup() {
  for p in $src_pid $rb_pid $sink_pid; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f}')" "$1" "$2"; }
rate() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.0f}')" "$1" "$2"; }

mkdir -p "$W/sink-classes"
javac -d "$W/sink-classes" -sourcepath test-support/src/main/java test-support/src/main/java/relaybox/relay/reliability/UpstreamSink.java
touch "$W/sink.down"
java -Xmx256m -cp "$W/sink-classes" relaybox.relay.reliability.UpstreamSink "$SINK_PORT" "$W/sink.status" "$W/arrivals" "$W/sink.down" &
sink_pid=$!
sink_count() { local n; n=$(cut -d' ' -f1 "$W/sink.status" 2>/dev/null); echo "${n:-0}"; }

# shellcheck source=bench/relaybox-start.sh
. bench/relaybox-start.sh
rb_default_conf "metrics_listen = \"127.0.0.1:$METRICS_PORT\"" > "$W/relaybox.conf"

# Starts the daemon; sets rb_pid, and first_accept to the seconds from the JVM's start to the
# first message accepted.
rb_start() {
  local t0
  t0=$(now)
  # shellcheck disable=SC2086
  java $RB_JAVA_OPTS -jar "$RB_JAR" run --config "$W/relaybox.conf" >> "$W/relaybox.log" 2>&1 &
  rb_pid=$!
  for _ in $(seq 1200); do
    if smtp-source -m 1 -l 1024 -f bench@example.com -t sink@example.net "127.0.0.1:$RB_PORT" 2>/dev/null; then
      first_accept=$(secs "$t0" "$(now)"); return
    fi
    kill -0 "$rb_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "relaybox did not accept; log:" >&2; tail -20 "$W/relaybox.log" >&2; exit 1
}
# The commands as packaged (the wrapper, its options and its class-data archives) for the first
# lines; the capped runs below use the same options without an archive.
rb_install_as_packaged "$W/inst" "$(dirname "$RB_JAR")" packaging/src/bin
cli() { "$W/inst/relaybox" "$@" --socket "$W/control.sock"; }
heap_after_gc() {
  jcmd "$rb_pid" GC.run >/dev/null
  jcmd "$rb_pid" GC.heap_info | awk '/used/ {for (i=1;i<=NF;i++) if ($i=="used") {sub("K,?","",$(i+1)); printf "%.1f MiB", $(i+1)/1024; exit}}'
}
rss() { awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' "/proc/$rb_pid/status"; }
scrape_ms() {
  curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$METRICS_PORT/metrics" | python3 -c "import sys; print(f'{float(sys.stdin.read())*1000:.0f} ms')"
}
# The CLI's heap is capped far below what a listing of the whole queue would take in memory,
# so a listing that finishes shows the CLI streams.
CLI_CAP=${CLI_CAP:--Xmx32m}
timed() { # label command...: the command's output lines, wall time and peak RSS
  local label=$1 t0 t1 n
  shift
  t0=$(now)
  n=$( { /usr/bin/time -f '%M' -o "$W/cli.rss" "$@"; } | wc -l)
  t1=$(now)
  echo "$label: $n lines in $(secs "$t0" "$t1") s, CLI peak RSS $(( $(cat "$W/cli.rss") / 1024 )) MiB"
}
read -r -a cli_opts <<< "$CLI_JAVA_OPTS"
capped=(java "${cli_opts[@]}" "$CLI_CAP" -jar "$RB_JAR")
first_line() { # command...: seconds to its first line of output, the CLI JVM's start included
  # Timed when the line is read, not when the pipeline ends: a command may go on working after
  # its first line (stats walks for its histogram) before it finds the reader gone.
  local t0
  t0=$(now)
  "$@" | { read -r _; now > "$W/first"; }
  secs "$t0" "$(cat "$W/first")"
}
listing() {
  echo "queue list: first line $(first_line cli queue list) s"
  timed "queue list, CLI $CLI_CAP" "${capped[@]}" queue list --socket "$W/control.sock"
}
# Every other way to read a deep queue, once at the full depth.
readings() {
  echo "queue list --json: first line $(first_line cli queue list --json) s"
  timed "queue list --json, CLI $CLI_CAP" "${capped[@]}" queue list --json --socket "$W/control.sock"
  timed "queue list --recipient nobody.invalid (walks all, matches none), CLI $CLI_CAP" \
    "${capped[@]}" queue list --recipient nobody.invalid --socket "$W/control.sock"
  timed "queue list --limit 100" "${capped[@]}" queue list --limit 100 --socket "$W/control.sock"
  echo "queue stats: first line $(first_line cli queue stats) s"
  timed "queue stats" "${capped[@]}" queue stats --socket "$W/control.sock"
  echo "daemon heap after a full GC after these readings: $(heap_after_gc)"
}

echo "depth (daemon): $TOTAL x 1 KiB, upstream down, JVM options: $RB_JAVA_OPTS, in $W"
rb_start
echo "start, empty queue: first accept $first_accept s after the JVM's start; heap $(heap_after_gc), RSS $(rss), scrape $(scrape_ms)"
sent=0
while [ "$sent" -lt "$TOTAL" ]; do
  t0=$(now)
  smtp-source -d -s 10 -m "$STEP" -l 1024 -f bench@example.com -t sink@example.net "127.0.0.1:$RB_PORT"
  t1=$(now); sent=$((sent + STEP))
  echo "$sent sent: $(rate "$STEP" "$(secs "$t0" "$t1")") msg/s; heap after a full GC $(heap_after_gc), RSS $(rss), metrics scrape $(scrape_ms)"
  listing
done
cli queue stats | head -2
readings

kill "$rb_pid"; wait "$rb_pid" 2>/dev/null || true
echo "queue list --offline (daemon stopped): first line $(first_line "$W/inst/relaybox" queue list --offline --queue-dir "$W/rbq") s"
timed "queue list --offline, CLI $CLI_CAP" "${capped[@]}" queue list --offline --queue-dir "$W/rbq"
rb_start
echo "clean stop, restart: first accept $first_accept s after the JVM's start; heap $(heap_after_gc)"

smtp-source -d -s 10 -m 30000 -l 1024 -f bench@example.com -t sink@example.net "127.0.0.1:$RB_PORT" 2>/dev/null &
src_pid=$!
sleep 5
kill -9 "$rb_pid"; wait "$rb_pid" 2>/dev/null || true
wait "$src_pid" 2>/dev/null || true; src_pid=
rb_start
echo "kill -9 while accepting, restart: first accept $first_accept s after the JVM's start; $(grep -c 'recovered from the spool' "$W/relaybox.log" || true) recovery lines in the log"

queued=$(cli queue stats --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["depth"])')
echo "drain: $queued waiting; the upstream comes back"
b0=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
c0=$(awk '{print $14+$15}' "/proc/$rb_pid/stat")
t0=$(now); rm -f "$W/sink.down"; cli queue retry --all > /dev/null
while [ "$(sink_count)" -lt "$queued" ]; do
  sleep 1
  kill -0 "$rb_pid" 2>/dev/null || { echo "the daemon died during the drain" >&2; exit 1; }
done
t1=$(now)
c1=$(awk '{print $14+$15}' "/proc/$rb_pid/stat")
b1=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
python3 - "$queued" "$(secs "$t0" "$t1")" "$c0" "$c1" "$b0" "$b1" <<'PY'
import sys
n, s, c0, c1 = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
b0, t0 = map(int, sys.argv[5].split()); b1, t1 = map(int, sys.argv[6].split())
print(f"drain: {n} in {s:.0f} s, {n / s:.0f} msg/s; daemon CPU {(c1 - c0) * 10_000 / n:.0f} us per message; host {100 * (b1 - b0) / max(1, t1 - t0):.0f}% busy")
PY
echo "heap after the drain $(heap_after_gc); sink holds $(sink_count)"
