#!/usr/bin/env bash
# relaybox benchmarks, with Debian's Postfix as a null client side by side in the same run.
#
#   intake   N x 4 KiB over 10 sessions, upstream down: accepted messages/s (durable) and peak RSS,
#            with a new connection per message (the default) and with connections kept (-d)
#   relay    (a) N x 4 KiB over 10 sessions to a local sink: end-to-end messages/s
#   drain    (b) N queued while the sink is down, then the sink comes up: time to drain, connections
#   latency  (c) 1,000 one at a time: 250 reply to arrival at the sink, p50/p99
#   large    (d) 200 x 5 MiB over 10 sessions, end to end
#
# Needs root (Postfix), Debian's postfix package (smtp-source) and a built tree:
#   mvn -q -B -DskipTests package && sudo bench/run.sh [workload...]
# Environment: N (default 10000), SESSIONS (10), WARMUP (20000), INTAKE_RUNS (3 warm intake runs,
# their median printed), SOURCE_OPTS (-d: one connection per smtp-source session), BENCH_DIR
# (a fresh directory on the same disk), RB_JAVA_OPTS (the daemon's JVM options; default the
# throughput setting shown in /etc/default/relaybox; the packaged default is "-Xms64m -Xmx256m",
# G1, about 15% slower in the drain), RB_JAR (the relaybox.jar to measure, its lib/ beside it;
# default this tree's admin-cli/target/relaybox.jar: a before/after pair runs the same script
# over an earlier build).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
N=${N:-10000}
SESSIONS=${SESSIONS:-10}
# SOURCE_OPTS=-d keeps each smtp-source session's connection open for all its messages
# (by default every message gets a new connection, as PHP mail() and cron do).
SOURCE_OPTS=${SOURCE_OPTS:-}
RB_JAVA_OPTS=${RB_JAVA_OPTS:--Xms256m -Xmx1g -XX:+UseParallelGC -XX:+ExitOnOutOfMemoryError -XX:ThreadPriorityPolicy=1 -XX:JavaPriority1_To_OSPriority=10}
W=${BENCH_DIR:-$(mktemp -d /var/tmp/relaybox-bench.XXXXXX)}
RB_PORT=2525 PF_PORT=2600 SINK_PORT=2699
workloads=${*:-intake relay drain latency large}
command -v smtp-source >/dev/null || { echo "needs smtp-source: apt-get install postfix" >&2; exit 1; }
RB_JAR=${RB_JAR:-admin-cli/target/relaybox.jar}
[ -f "$RB_JAR" ] || { echo "build first: mvn -q -B -DskipTests package" >&2; exit 1; }

sink_pid= rb_pid=
cleanup() {
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  [ -n "$rb_pid" ] && kill "$rb_pid" 2>/dev/null || true
  postfix stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f}')" "$1" "$2"; }
rate() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.0f}')" "$1" "$2"; }
median() { python3 -c "import sys, statistics; print(f'{statistics.median(map(float, sys.argv[1:])):.0f}')" "$@"; }

sink_start() {
  rm -f "$W/sink.status" "$W/arrivals" "$W/sink.down"
  java -Xmx256m -cp "$W/sink-classes" relaybox.relay.reliability.UpstreamSink "$SINK_PORT" "$W/sink.status" "$W/arrivals" "$W/sink.down" &
  sink_pid=$!
  for _ in $(seq 100); do [ -s "$W/sink.status" ] && return; sleep 0.1; done
  echo "sink did not start" >&2; exit 1
}
# An upstream outage and its end, without a sink JVM starting inside a measurement.
sink_down() { touch "$W/sink.down"; sleep 0.5; }
sink_up() { rm -f "$W/sink.down"; }
sink_stop() { kill "$sink_pid" 2>/dev/null || true; wait "$sink_pid" 2>/dev/null || true; sink_pid=; }
sink_count() { local n; n=$(cut -d' ' -f1 "$W/sink.status" 2>/dev/null); echo "${n:-0}"; }
sink_connections() { cut -d' ' -f2 "$W/sink.status"; }
sink_wait() { # count timeout_s
  local deadline=$(( $(date +%s) + $2 ))
  while [ "$(sink_count)" -lt "$1" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "TIMEOUT: sink has $(sink_count) of $1" >&2; return 1; }
    sleep 0.05
  done
}

# shellcheck source=bench/relaybox-start.sh
. bench/relaybox-start.sh
# relaybox's postqueue -f: every queued and deferred entry due now, and down upstreams probed
# now. (Without it the prober notices within forward_probe_interval, 1s here, by itself.) The JVM
# options are the ones packaging/src/bin/relaybox gives every command but "run".
CLI_JAVA_OPTS=$(sed -n 's/^RELAYBOX_CLI_JAVA_OPTS="\(.*\)"$/\1/p' packaging/src/bin/relaybox)
# shellcheck disable=SC2086
rb_flush() { java $CLI_JAVA_OPTS -jar "$RB_JAR" queue retry --all --socket "$W/control.sock" >/dev/null; }
rb_rss() { awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$rb_pid/status"; }
rb_stop() { kill "$rb_pid" 2>/dev/null || true; wait "$rb_pid" 2>/dev/null || true; rb_pid=; }

# Postfix starts with an empty queue: mail left by an earlier workload (the intake's, queued
# with the sink down) is deleted while Postfix is stopped. Deleted after the start instead, the
# part still in incoming/ reached the sink first and was counted by the next workload.
pf_start() {
  pf_stop
  postsuper -d ALL >/dev/null 2>&1 || true
  rm -f /var/spool/postfix/{incoming,active,deferred,maildrop,hold}/*/* \
    /var/spool/postfix/{incoming,active,deferred,maildrop,hold}/* 2>/dev/null || true
  bench/postfix-nullclient.sh "$PF_PORT" "$SINK_PORT"
}
# `postfix stop` only signals the master; wait until it is gone, or the next start finds it
# still running and the queue deleted under it is refilled by its last deliveries.
pf_stop() {
  postfix stop >/dev/null 2>&1 || true
  for _ in $(seq 100); do postfix status >/dev/null 2>&1 || return 0; sleep 0.1; done
}

send() { # port count size sessions
  smtp-source $SOURCE_OPTS -s "$4" -m "$2" -l "$3" -f bench@example.com -t sink@example.net "127.0.0.1:$1"
}

# Every workload is measured twice on the same daemon: "cold" is the first N messages after it
# started (JIT compilation still running), "warm" is N more after WARMUP unmeasured ones, the
# state a long-running relay is in. Postfix gets the same sequence.
WARMUP=${WARMUP:-20000}

settle_count() { sleep 1; sink_count; } # what the sink holds once stragglers (duplicates) had time to arrive

# The warm intake is measured INTAKE_RUNS times and the median printed with every run: on a
# shared 2-core machine one run of a few seconds moves by 15% with the neighbours' load.
INTAKE_RUNS=${INTAKE_RUNS:-3}

intake_runs() { # port [smtp-source option]: prints each run's msg/s
  local t0 t1
  for _ in $(seq "$INTAKE_RUNS"); do
    t0=$(now); SOURCE_OPTS="$SOURCE_OPTS ${2:-}" send "$1" "$N" 4096 "$SESSIONS"; t1=$(now)
    rate "$N" "$(elapsed "$t0" "$t1")"
  done
}

intake_one() { # name port
  local t0 t1 runs
  t0=$(now); send "$2" "$N" 4096 "$SESSIONS"; t1=$(now)
  echo "$1 cold: $(rate "$N" "$(elapsed "$t0" "$t1")") msg/s accepted ($(elapsed "$t0" "$t1") s)"
  send "$2" "$WARMUP" 4096 "$SESSIONS"
  # shellcheck disable=SC2207
  runs=($(intake_runs "$2"))
  echo "$1 warm: $(median "${runs[@]}") msg/s accepted (median of $INTAKE_RUNS runs of $N: ${runs[*]}; after $WARMUP warm-up messages)"
  # The same N over 10 sessions that each stay connected (smtp-source -d): the client that
  # keeps its connection, as mail libraries with keep-alive and relaybox's own forwarder do.
  # shellcheck disable=SC2207
  runs=($(intake_runs "$2" -d))
  echo "$1 warm, connections kept: $(median "${runs[@]}") msg/s accepted (median of $INTAKE_RUNS runs: ${runs[*]})"
}

intake() {
  echo "== intake: $N x 4 KiB, $SESSIONS sessions, upstream down"
  rb_start
  intake_one "relaybox" $RB_PORT
  echo "relaybox peak RSS $(rb_rss)"
  rb_stop
  pf_start
  intake_one "postfix " $PF_PORT
  pf_stop
}

relay_one() { # name port
  local t0 t1 total=$N
  t0=$(now); send "$2" "$N" 4096 "$SESSIONS"; sink_wait "$total" 600; t1=$(now)
  echo "$1 cold: $(rate "$N" "$(elapsed "$t0" "$t1")") msg/s end to end ($(elapsed "$t0" "$t1") s)"
  total=$((total + WARMUP)); send "$2" "$WARMUP" 4096 "$SESSIONS"; sink_wait "$total" 600
  total=$((total + N))
  t0=$(now); send "$2" "$N" 4096 "$SESSIONS"; sink_wait "$total" 600; t1=$(now)
  echo "$1 warm: $(rate "$N" "$(elapsed "$t0" "$t1")") msg/s end to end ($(elapsed "$t0" "$t1") s); sink holds $(settle_count) of $total sent, over $(sink_connections) upstream connections"
}

relay() {
  echo "== relay (a): $N x 4 KiB, $SESSIONS sessions, to a local sink"
  sink_start; rb_start
  relay_one "relaybox" $RB_PORT
  echo "relaybox peak RSS $(rb_rss)"
  rb_stop; sink_stop
  sink_start; pf_start
  relay_one "postfix " $PF_PORT
  pf_stop; sink_stop
}

# Host CPU over a measurement: busy jiffies (all but idle and iowait) and total jiffies, summed
# over all cores, from /proc/stat; the share busy is of all cores together.
host_jiffies() { awk '/^cpu / {busy=$2+$3+$4+$7+$8+$9; print busy, busy+$5+$6}' /proc/stat; }
host_busy() { # "busy0 total0" "busy1 total1"
  python3 -c "import sys; b0,t0=map(int,sys.argv[1].split()); b1,t1=map(int,sys.argv[2].split()); print(f'{100*(b1-b0)/max(1,t1-t0):.0f}%')" "$1" "$2"
}
# CPU seconds (user + system) of one process and its threads.
proc_cpu() { awk '{printf "%.2f", ($14+$15)/100}' "/proc/$1/stat" 2>/dev/null || echo 0; }

drain_one() { # name port flush-command label
  local t0 t1 c0 before h0 h1 r0 r1 s0 s1
  before=$(sink_count)
  sink_down
  send "$2" "$N" 4096 "$SESSIONS"
  sleep 1
  c0=$(sink_connections)
  h0=$(host_jiffies); s0=$(proc_cpu "$sink_pid")
  if [ -n "$rb_pid" ]; then r0=$(proc_cpu "$rb_pid"); fi
  t0=$(now); sink_up; $3; sink_wait $((before + N)) 900; t1=$(now)
  h1=$(host_jiffies); s1=$(proc_cpu "$sink_pid")
  local cpu=""
  if [ -n "$rb_pid" ]; then r1=$(proc_cpu "$rb_pid"); cpu=", relaybox CPU $(python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f}')" "$r0" "$r1") s"; fi
  echo "$1 $4: drained in $(elapsed "$t0" "$t1") s ($(rate "$N" "$(elapsed "$t0" "$t1")") msg/s, $3); sink holds $(( $(settle_count) - before )) of $N, over $(( $(sink_connections) - c0 )) connections; host busy $(host_busy "$h0" "$h1") of $(nproc) cores$cpu, sink CPU $(python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f}')" "$s0" "$s1") s"
}

# Two outages per system on the same process: the first after WARMUP relayed messages (the
# forwarder compiled for relaying, not yet for a drain), the second as in a relay that has been
# through an outage before.
drain() {
  echo "== drain (b): $N x 4 KiB queued while the sink is down, then the sink comes up and the queue is flushed"
  sink_start; rb_start
  send $RB_PORT "$WARMUP" 4096 "$SESSIONS"; sink_wait "$WARMUP" 600
  drain_one "relaybox:" $RB_PORT "rb_flush" "first outage"
  drain_one "relaybox:" $RB_PORT "rb_flush" "second outage"
  rb_stop; sink_stop
  sink_start; pf_start
  send $PF_PORT "$WARMUP" 4096 "$SESSIONS"; sink_wait "$WARMUP" 600
  drain_one "postfix: " $PF_PORT "postqueue -f" "first outage"
  drain_one "postfix: " $PF_PORT "postqueue -f" "second outage"
  pf_stop; sink_stop
}

latency() {
  local n=1000
  echo "== latency (c): $n messages one at a time (after $WARMUP warm-up messages), 250 to arrival at the sink"
  for who in relaybox postfix; do
    sink_start
    if [ $who = relaybox ]; then rb_start; port=$RB_PORT; else pf_start; port=$PF_PORT; fi
    send "$port" "$WARMUP" 4096 "$SESSIONS"; sink_wait "$WARMUP" 600
    java bench/LatencyClient.java 127.0.0.1 "$port" "$n" "$W/acks"
    sink_wait $((n + WARMUP)) 300
    sleep 0.3
    python3 - "$W/acks" "$W/arrivals" "$who" <<'PY'
import sys
acks = dict(l.split() for l in open(sys.argv[1]))
arr = dict(l.split() for l in open(sys.argv[2]))
lat = sorted((int(arr[k]) - int(v)) / 1e6 for k, v in acks.items() if k in arr)
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"{sys.argv[3]:9} p50 {p(0.50):.2f} ms, p99 {p(0.99):.2f} ms, max {lat[-1]:.2f} ms ({len(lat)} messages)")
PY
    if [ $who = relaybox ]; then rb_stop; else pf_stop; fi
    sink_stop
  done
}

large() {
  local n=200
  echo "== large (d): $n x 5 MiB, $SESSIONS sessions, end to end"
  sink_start; rb_start
  local t0 t1; t0=$(now); send $RB_PORT "$n" 5242880 "$SESSIONS"; sink_wait "$n" 900; t1=$(now)
  echo "relaybox: $(elapsed "$t0" "$t1") s ($(rate $((n * 5)) "$(elapsed "$t0" "$t1")") MiB/s), peak RSS $(rb_rss)"
  rb_stop; sink_stop
  sink_start; pf_start
  t0=$(now); send $PF_PORT "$n" 5242880 "$SESSIONS"; sink_wait "$n" 900; t1=$(now)
  echo "postfix:  $(elapsed "$t0" "$t1") s ($(rate $((n * 5)) "$(elapsed "$t0" "$t1")") MiB/s)"
  pf_stop; sink_stop
}

mkdir -p "$W/sink-classes" && javac -d "$W/sink-classes" -sourcepath test-support/src/main/java test-support/src/main/java/relaybox/relay/reliability/UpstreamSink.java
echo "relaybox benchmark, $(nproc) cores, $(date -u +%FT%TZ), work dir $W, jar $RB_JAR, daemon JVM: $RB_JAVA_OPTS, load $(cut -d" " -f1-3 /proc/loadavg)"
for w in $workloads; do "$w"; done
