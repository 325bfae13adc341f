#!/usr/bin/env bash
# Duplicates per kill -9, relaybox and Debian's Postfix (null client) side by side (issue 16):
# what an SMTP relay resends after a crash in the middle of draining a backlog. Each system gets
# N x 1 KiB messages, every one with its own X-Bench-Id, while the sink is down; then the sink
# comes up and, while the backlog drains, the system is killed with SIGKILL KILLS times, each a
# random 0.2-1.5 s after it was back (the moment CrashLoopIT's "random" kills hit), and started
# again. Both go to the same sink, which notes each copy when its final "." arrives. Prints, per
# system: kills, messages acknowledged, delivered, lost (acknowledged, never delivered),
# duplicates and duplicates per kill, the drain rate between kills, and duplicates per kill
# divided by that rate: the mean window (from the upstream having a message to the relay
# recording it) the copies imply.
#
#   mvn -q -B -DskipTests package && bench/kill-dups.sh
# Environment: N (default 100000), KILLS (20), SEED (random; printed), SESSIONS (10 submitting
# connections), SYSTEMS ("relaybox postfix"), BENCH_DIR (a fresh directory), RB_JAR (a
# before/after pair runs the script over an earlier build), RB_JAVA_OPTS (default the packaged
# ones), RB_CONF (lines added to relaybox's configuration, e.g. "forward_concurrency = 2", to
# compare the window at Postfix's drain rate).
# relaybox runs on its default configuration (one upstream, its default connection count);
# Postfix as bench/postfix-nullclient.sh sets it up (20 connections to the relayhost).
# Needs root, Debian's postfix package and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
KILLS=${KILLS:-20}
SEED=${SEED:-$RANDOM$RANDOM}
SESSIONS=${SESSIONS:-10}
SYSTEMS=${SYSTEMS:-relaybox postfix}
RB_JAR=${RB_JAR:-admin-cli/target/relaybox.jar}
RB_JAVA_OPTS=${RB_JAVA_OPTS:-$(sed -n 's/^RELAYBOX_JAVA_OPTS="\(.*\)"$/\1/p' packaging/src/bin/relaybox)}
CLI_JAVA_OPTS=$(sed -n 's/^RELAYBOX_CLI_JAVA_OPTS="\(.*\)"$/\1/p' packaging/src/bin/relaybox)
W=${BENCH_DIR:-$(mktemp -d /var/tmp/relaybox-kills.XXXXXX)}
RB_PORT=2525 PF_PORT=2600 SINK_PORT=2699
command -v postconf >/dev/null || { echo "needs postfix: apt-get install postfix" >&2; exit 1; }
[ -f "$RB_JAR" ] || { echo "build first: mvn -q -B -DskipTests package" >&2; exit 1; }
echo "kill-dups: N=$N KILLS=$KILLS SEED=$SEED in $W${RB_CONF:+ (relaybox with: $RB_CONF)}"

sink_pid= rb_pid=
cleanup() {
  [ -n "$rb_pid" ] && kill "$rb_pid" 2>/dev/null || true
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  postfix stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
now() { date +%s.%N; }

mkdir -p "$W/sink-classes"
javac -d "$W/sink-classes" -sourcepath test-support/src/main/java \
  test-support/src/main/java/relaybox/relay/reliability/UpstreamSink.java
touch "$W/sink.down"
java -Xmx512m -cp "$W/sink-classes" relaybox.relay.reliability.UpstreamSink "$SINK_PORT" "$W/sink.status" \
  "$W/arrivals" "$W/sink.down" &
sink_pid=$!

# The random moments, from the seed, so a run can be repeated; both systems get the same ones.
mapfile -t pauses < <(python3 -c "import random, sys; r = random.Random(int(sys.argv[1]))
for _ in range(int(sys.argv[2])): print(f'{r.uniform(0.2, 1.5):.3f}')" "$SEED" "$KILLS")

# submit PORT PREFIX: N messages over SESSIONS connections, each with X-Bench-Id PREFIX-i; exits
# non-zero unless every one was answered 250.
submit() {
  python3 - "$1" "$2" "$N" "$SESSIONS" <<'PY'
import smtplib, sys, threading
port, prefix, n, sessions = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
body = "".join("line %04d of a one-KiB benchmark message, padded out to fill it...\r\n" % i for i in range(14))
failed = []
def run(k):
    s = smtplib.SMTP("127.0.0.1", port, timeout=120)
    for i in range(k, n, sessions):
        msg = ("From: bench@example.com\r\nTo: sink@example.net\r\nSubject: kill bench %d\r\n"
               "X-Bench-Id: %s-%d\r\n\r\n%s") % (i, prefix, i, body)
        try:
            s.sendmail("bench@example.com", ["sink@example.net"], msg)
        except Exception as e:
            failed.append("%s-%d: %s" % (prefix, i, e))
            s = smtplib.SMTP("127.0.0.1", port, timeout=120)
    s.quit()
ts = [threading.Thread(target=run, args=(k,)) for k in range(sessions)]
[t.start() for t in ts]
[t.join() for t in ts]
if failed:
    print("%d not acknowledged, first: %s" % (len(failed), failed[0]), file=sys.stderr)
    sys.exit(1)
PY
}
# arrived PREFIX: "copies unique" of that prefix at the sink so far.
arrived() {
  awk -v p="$1-" 'index($1, p) == 1 { c++; if (!seen[$1]++) u++ } END { print c + 0, u + 0 }' "$W/arrivals" 2>/dev/null \
    || echo "0 0"
}
wait_port() { # port seconds
  local t=$(( $2 * 10 ))
  for _ in $(seq "$t"); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

# shellcheck source=bench/relaybox-start.sh
. bench/relaybox-start.sh
rb_default_conf ${RB_CONF:+"$RB_CONF"} > "$W/relaybox.conf"
rb_start() {
  # shellcheck disable=SC2086
  java $RB_JAVA_OPTS -jar "$RB_JAR" run --config "$W/relaybox.conf" >> "$W/relaybox.log" 2>&1 &
  rb_pid=$!
  wait_port "$RB_PORT" 120 || { echo "relaybox did not start; log:" >&2; tail -20 "$W/relaybox.log" >&2; exit 1; }
}
rb_kill() { kill -9 "$rb_pid"; wait "$rb_pid" 2>/dev/null || true; rb_pid=; }
# shellcheck disable=SC2086
rb_flush() { java $CLI_JAVA_OPTS -jar "$RB_JAR" queue retry --all --socket "$W/control.sock" > /dev/null; }

pf_start() {
  postfix start >/dev/null 2>&1 || true
  wait_port "$PF_PORT" 60 || { echo "postfix did not start" >&2; exit 1; }
}
# Every Postfix process at once (master, qmgr, smtp, ...), as a crash of the whole system.
pf_kill() {
  local pids=() p
  for p in /proc/[0-9]*; do
    case "$(readlink "$p/exe" 2>/dev/null)" in /usr/lib/postfix/sbin/*) pids+=("${p#/proc/}") ;; esac
  done
  [ ${#pids[@]} -gt 0 ] && kill -9 "${pids[@]}" 2>/dev/null || true
  sleep 0.2
}
pf_flush() { postqueue -f; }

# run NAME PREFIX PORT START KILL FLUSH: the backlog, then the kills during its drain. The flush
# (after the outage, every message waits for its retry time) runs once, when the sink comes up;
# a restarted system goes on with what is due.
run() {
  local name=$1 prefix=$2 port=$3 start=$4 kill=$5 flush=$6
  local k=0 t0 t1 u0 u1 copies unique
  touch "$W/sink.down"
  $start
  t0=$(now); submit "$port" "$prefix"; t1=$(now)
  echo "$name: $N acknowledged in $(python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f}')" "$t0" "$t1") s, sink down"
  rm -f "$W/sink.down"
  $flush
  while [ "$k" -lt "$KILLS" ]; do
    # From the moment the drain is seen going again (the sink's arrivals file is written every
    # 100 ms): the two systems take different times to start delivering after a start, and a
    # kill before that would hit nothing in flight.
    read -r _ u0 <<< "$(arrived "$prefix")"
    for _ in $(seq 600); do
      read -r _ u1 <<< "$(arrived "$prefix")"
      [ "$u1" -gt "$u0" ] || [ "$u1" -ge "$N" ] && break
      sleep 0.05
    done
    [ "$u1" -ge "$N" ] && break
    t0=$(now)
    sleep "${pauses[$k]}"
    read -r _ u1 <<< "$(arrived "$prefix")"
    [ "$u1" -ge "$N" ] && break
    $kill
    t1=$(now)
    echo "$prefix $t1 $t0" >> "$W/kills"
    k=$((k + 1))
    $start
  done
  # Drained: every message once at least, then a few seconds for any late copy.
  for _ in $(seq 600); do read -r copies unique <<< "$(arrived "$prefix")"; [ "$unique" -ge "$N" ] && break; sleep 0.5; done
  sleep 3
  read -r copies unique <<< "$(arrived "$prefix")"
  python3 - "$name" "$k" "$N" "$unique" "$copies" "$prefix" "$W/arrivals" "$W/kills" <<'PY'
import bisect, sys
name, kills, n, unique, copies = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
prefix, arrivals, kill_file = sys.argv[6] + "-", sys.argv[7], sys.argv[8]
kills_at = sorted((float(l.split()[1]), float(l.split()[2])) for l in open(kill_file)
                  if l.startswith(sys.argv[6] + " "))
kill_times = [k for k, _ in kills_at]
first, per_kill = {}, [0] * len(kill_times)
for line in open(arrivals):
    i, ns = line.split()
    if not i.startswith(prefix):
        continue
    if i in first:
        # A copy again: charged to the first kill after its first copy arrived.
        k = bisect.bisect_left(kill_times, first[i])
        if k < len(per_kill):
            per_kill[k] += 1
    else:
        first[i] = int(ns) / 1e9
# The drain rate in the pauses before the kills, from the sink's own arrival times.
firsts = sorted(first.values())
moved = sum(bisect.bisect_left(firsts, k) - bisect.bisect_left(firsts, s) for k, s in kills_at)
t = sum(k - s for k, s in kills_at)
print(f"{name}: duplicates per kill, in order: {' '.join(map(str, per_kill))}")
dups = copies - unique
rate = moved / t if t > 0 else 0
per = dups / kills if kills else 0
window = per / rate * 1000 if rate else 0
print(f"{name}: {kills} kills, {n} acknowledged, {unique} delivered, {n - unique} lost, {dups} duplicates, "
      f"{per:.2f} per kill; drain between kills {rate:.0f} msg/s; implied window {window:.2f} ms")
PY
}

for system in $SYSTEMS; do
  case $system in
  relaybox)
    run relaybox rb "$RB_PORT" rb_start rb_kill rb_flush
    kill "$rb_pid"; wait "$rb_pid" 2>/dev/null || true; rb_pid=
    ;;
  postfix)
    bench/postfix-nullclient.sh "$PF_PORT" "$SINK_PORT" > /dev/null
    postfix stop >/dev/null 2>&1 || true
    for _ in $(seq 100); do postfix status >/dev/null 2>&1 || break; sleep 0.1; done
    postsuper -d ALL >/dev/null 2>&1 || true
    run postfix pf "$PF_PORT" pf_start pf_kill pf_flush
    ;;
  *) echo "unknown system $system" >&2; exit 2 ;;
  esac
done
