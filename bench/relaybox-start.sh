# Sourced by the benchmarks. rb_start (bench/run.sh, bench/ab.sh) starts relaybox on the
# throughput benchmarks' configuration (a fresh queue in $W, intake on $RB_PORT, one plain-text
# upstream on $SINK_PORT, the throughput limits) with $RB_JAVA_OPTS and $RB_JAR, and returns once
# its intake answers; sets rb_pid. rb_default_conf (bench/depth-daemon.sh, bench/kill-dups.sh)
# prints the default configuration but for what a benchmark must set: the same listen address,
# queue directory and upstream, the control socket, and any extra lines given as arguments.
# rb_install_as_packaged (bench/sendmail.sh, bench/depth-daemon.sh) lays out the commands as the
# package installs them.
rb_default_conf() {
  cat <<CONF
intake_listen = ["127.0.0.1:$RB_PORT"]
queue_dir = "$W/rbq"
control_socket = "$W/control.sock"
$(printf '%s\n' "$@")

[[upstream]]
name = "sink"
host = "127.0.0.1"
port = $SINK_PORT
tls = "none"
CONF
}

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
  # In a session of its own, as systemd starts the unit (and as Postfix's master detaches):
  # with the kernel's autogroup the scheduler then weighs the daemon as one group against
  # smtp-source and the sink, and its threads' nice values rank them only against each other
  # (README "Deliveries before intake"). setsid execs in place (a background job of a script is
  # no process-group leader), so $! is the JVM.
  # shellcheck disable=SC2086
  setsid java $RB_JAVA_OPTS -jar "$RB_JAR" run --config "$W/relaybox.conf" \
    > "$W/relaybox.log" 2>&1 &
  rb_pid=$!
  for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$RB_PORT) 2>/dev/null && return; sleep 0.1; done
  echo "relaybox did not start; log:" >&2; tail -20 "$W/relaybox.log" >&2; exit 1
}

# relaybox as the package installs it, under $1: the jars of $2 (relaybox.jar, lib/), the
# wrappers of $3 (packaging/src/bin), and the class-data archives its make-cli-archive writes.
rb_install_as_packaged() {
  local inst=$1 jars=$2 bin=$3
  rm -rf "$inst"; mkdir -p "$inst/share" "$inst/cache"
  cp -r "$jars/relaybox.jar" "$jars/lib" "$inst/share/"
  for f in relaybox sendmail mailq make-cli-archive; do
    [ -f "$bin/$f" ] || continue
    sed -e "s|/usr/share/relaybox|$inst/share|g; s|/var/cache/relaybox|$inst/cache|g" \
        -e "s|/usr/bin/relaybox|$inst/relaybox|g; s|/etc/default/relaybox /etc/sysconfig/relaybox|$inst/default|" \
        "$bin/$f" > "$inst/$f"
    chmod 755 "$inst/$f"
  done
  "$inst/make-cli-archive"
}
