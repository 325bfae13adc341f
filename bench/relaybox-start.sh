# Sourced by bench/run.sh and bench/ab.sh: starts relaybox on the benchmarks' configuration (a
# fresh queue in $W, intake on $RB_PORT, one plain-text upstream on $SINK_PORT, the throughput
# limits) with $RB_JAVA_OPTS and $RB_JAR, and returns once its intake answers; sets rb_pid.
rb_start() {
  rm -rf "$W/rbq"
  cat > "$W/relaybox.conf" <<CONF
intake_listen = ["127.0.0.1:$RB_PORT"]
intake_max_connections = 2000
queue_dir = "$W/rbq"
queue_min_free_space = "1GiB"
forward_probe_interval = "1s"
control_socket = "$W/control.sock"

[[upstream]]
name = "sink"
host = "127.0.0.1"
port = $SINK_PORT
tls = "none"
messages_per_connection = 5000
max_connections = 4
CONF
  # shellcheck disable=SC2086
  java $RB_JAVA_OPTS -jar "$RB_JAR" run --config "$W/relaybox.conf" \
    > "$W/relaybox.log" 2>&1 &
  rb_pid=$!
  for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$RB_PORT) 2>/dev/null && return; sleep 0.1; done
  echo "relaybox did not start; log:" >&2; tail -20 "$W/relaybox.log" >&2; exit 1
}
