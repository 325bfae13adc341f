#!/usr/bin/env bash
# Two builds of relaybox against each other, interleaved so that the machine's drift falls on
# both: rounds of A then B, then B then A (ABBA), relaybox only, on bench/run.sh's setup (10
# smtp-source sessions, 4 KiB, the throughput JVM options). Each run prints messages per second,
# relaybox's CPU per message, the load average, and the CPU ticks of its busiest threads. On a
# shared machine one run moves by 15-20%: compare means and medians over several rounds, and
# prefer CPU per message.
#
#   bench/ab.sh A/relaybox.jar B/relaybox.jar      (each with its lib/ beside it)
# Environment: ROUNDS (3), N (10000 measured), WARMUP (20000 first), WORKLOAD (relay: end to end
# to a local sink; intake: the sink down, accepted messages only), BENCH_DIR, RB_JAVA_OPTS (default the
# throughput setting shown in /etc/default/relaybox), A_JAVA_OPTS and B_JAVA_OPTS (added to
# RB_JAVA_OPTS for that side only: the same jar twice compares two JVM options).
set -euo pipefail
cd "$(dirname "$0")/.."
A=$1 B=$2 ROUNDS=${ROUNDS:-3} N=${N:-10000} WARMUP=${WARMUP:-20000} WORKLOAD=${WORKLOAD:-relay}
W=${BENCH_DIR:-$(mktemp -d /var/tmp/relaybox-ab.XXXXXX)}; mkdir -p "$W/sink-classes"
javac -d "$W/sink-classes" -sourcepath test-support/src/main/java test-support/src/main/java/relaybox/relay/reliability/UpstreamSink.java
SINK_PORT=2799 RB_PORT=2725 RB_JAVA_OPTS=${RB_JAVA_OPTS:--Xms256m -Xmx1g -XX:+UseParallelGC -XX:ThreadPriorityPolicy=1 -XX:JavaPriority1_To_OSPriority=10}
# shellcheck source=bench/relaybox-start.sh
. bench/relaybox-start.sh
now() { date +%s.%N; }
run_one() { # jar label
  rm -rf $W/sink.status $W/sink.down
  [ "$WORKLOAD" = intake ] && touch $W/sink.down
  java -Xmx256m -cp $W/sink-classes relaybox.relay.reliability.UpstreamSink $SINK_PORT $W/sink.status $W/arrivals $W/sink.down & sp=$!
  local opts=$RB_JAVA_OPTS extra=A_JAVA_OPTS
  [ "$2" = B ] && extra=B_JAVA_OPTS
  RB_JAVA_OPTS="$opts ${!extra:-}" RB_JAR=$1 rb_start; rp=$rb_pid
  cnt() { local n; n=$(cut -d' ' -f1 $W/sink.status 2>/dev/null); echo ${n:-0}; }
  waitfor() { while [ "$(cnt)" -lt "$1" ]; do sleep 0.05; done; }
  smtp-source -s 10 -m $WARMUP -l 4096 -f b@example.com -t s@example.net 127.0.0.1:$RB_PORT
  [ "$WORKLOAD" = relay ] && waitfor $WARMUP
  c0=$(awk '{print $14+$15}' /proc/$rp/stat); t0=$(now); smtp-source -s 10 -m $N -l 4096 -f b@example.com -t s@example.net 127.0.0.1:$RB_PORT
  [ "$WORKLOAD" = relay ] && waitfor $((WARMUP+N))
  t1=$(now); c1=$(awk '{print $14+$15}' /proc/$rp/stat)
  echo "$2 $(python3 -c "print(f'{$N/($t1-$t0):.0f}')") msg/s  relaybox CPU $(python3 -c "print(f'{($c1-$c0)*10000/$N:.0f}')") us/msg  load $(cut -d' ' -f1 /proc/loadavg)"
  for t in /proc/$rp/task/*; do n=$(tr ' ' _ < $t/comm | sed 's/[-#0-9]*$//'); c=$(awk '{print $14+$15}' $t/stat); echo "$n $c"; done | awk -v L=$2 '{s[$1]+=$2} END {for (k in s) if (s[k]>20) printf "%s T %s %d\n", L, k, s[k]}' | sort -k4 -n -r | head -12
  kill $rp $sp; wait $rp $sp 2>/dev/null || true
}
for r in $(seq $ROUNDS); do if [ $((r%2)) = 1 ]; then run_one "$A" A; run_one "$B" B; else run_one "$B" B; run_one "$A" A; fi; done
