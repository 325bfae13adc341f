#!/usr/bin/env bash
# sendmail wall time per call, side by side in one run (issue 19: scripts send in a loop):
#
#   relaybox, daemon up      /usr/sbin/sendmail -t -i, as installed: into the drop directory, which
#                            the running daemon watches and queues from
#   --smtp, daemon up        sendmail -t -i --smtp: SMTP to the running daemon's intake first
#   --smtp, daemon down      the same with nothing listening: the message goes to the drop directory
#   postfix                  Postfix's /usr/sbin/sendmail -t -i (postdrop into maildrop/, no port)
#   empty JVM                java -cp DIR E (an empty main): the floor for anything on this JVM
#   empty JVM, CLI options   the same with the options the relaybox wrapper gives sendmail
#
# Each is called CALLS times (default 50), round-robin, so that the neighbours' load falls on
# all alike; printed: median and p90 wall time per call, and the median CPU time (user + sys).
# relaybox runs as packaged: called as /usr/sbin/sendmail is (packaging/src/bin/sendmail, then
# the wrapper packaging/src/bin/relaybox) with its class-data archive (written by
# packaging/src/bin/make-cli-archive) over a copy of admin-cli/target, paths moved into a
# scratch directory. With RELAYBOX=/usr/bin/relaybox the installed package is measured instead
# (its archive, its /etc/default/relaybox; called as "$RELAYBOX sendmail", or as RB_SENDMAIL if
# set, e.g. /usr/sbin/sendmail), against a daemon started from the build.
#
# Needs root (Postfix), Debian's postfix package, python3 and a built tree:
#   mvn -q -B -DskipTests package && sudo bench/sendmail.sh
# Environment: CALLS (50), BENCH_DIR (scratch directory), BASELINE_TREE (an earlier build as
# packaged: a directory holding its relaybox.jar, lib/ and packaging/src/bin/; adds its rows,
# daemon up and down, through its own wrapper, options and class-data archive, and the empty
# JVM with its CLI options), BASELINE_JAR (a relaybox.jar of an earlier build, run bare with
# BASELINE_OPTS, default "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss512k -Xshare:auto").
# PRIORITY=1 runs every call (and relaybox's daemon) under chrt -f 10: on a host shared with
# other work, wall time then is the call's own, not its wait for a core; without it, compare
# the CPU column.
# Postfix is started as a null client on PF_PORT (2691; its sendmail needs no port) and
# stopped at the end, its queue emptied; relaybox's daemon listens on RB_PORT (2692).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
CALLS=${CALLS:-50}
RB_PORT=${RB_PORT:-2692} PF_PORT=${PF_PORT:-2691} DEAD_PORT=2693
BASELINE_OPTS=${BASELINE_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss512k -Xshare:auto}
W=${BENCH_DIR:-$(mktemp -d /var/tmp/relaybox-sendmail-bench.XXXXXX)}
command -v postfix >/dev/null || { echo "needs Postfix: apt-get install postfix" >&2; exit 1; }
[ -f admin-cli/target/relaybox.jar ] || { echo "build first: mvn -q -B -DskipTests package" >&2; exit 1; }

rb_pid=
cleanup() {
  [ -n "$rb_pid" ] && kill "$rb_pid" 2>/dev/null || true
  postfix stop >/dev/null 2>&1 || true
  postsuper -d ALL >/dev/null 2>&1 || true
}
trap cleanup EXIT

# shellcheck source=bench/relaybox-start.sh
. bench/relaybox-start.sh
if [ -z "${RELAYBOX:-}" ]; then
  rb_install_as_packaged "$W/inst" admin-cli/target packaging/src/bin
  RELAYBOX=$W/inst/relaybox
  RB_SENDMAIL=$W/inst/sendmail
fi
RB_SENDMAIL=${RB_SENDMAIL:-$RELAYBOX sendmail}
if [ -n "${BASELINE_TREE:-}" ]; then
  rb_install_as_packaged "$W/base" "$BASELINE_TREE" "$BASELINE_TREE/packaging/src/bin"
fi

# The daemon, from the build, with its own queue; its upstream is a closed port, so what it
# accepts stays queued.
mkdir -p "$W/drop-up" "$W/drop-down"
cat > "$W/relaybox.conf" <<CONF
intake_listen = ["127.0.0.1:$RB_PORT"]
queue_dir = "$W/rbq"
queue_min_free_space = "100MiB"
control_socket = "$W/control.sock"
drop_dir = "$W/drop-up"

[[upstream]]
name = "nowhere"
host = "127.0.0.1"
port = $DEAD_PORT
tls = "none"
CONF
prio=
[ "${PRIORITY:-0}" = 1 ] && prio="chrt -f 10"
$prio java -Xmx256m -jar admin-cli/target/relaybox.jar run --config "$W/relaybox.conf" > "$W/relaybox.log" 2>&1 &
rb_pid=$!
for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$RB_PORT) 2>/dev/null && break; sleep 0.1; done
(exec 3<>/dev/tcp/127.0.0.1/$RB_PORT) 2>/dev/null || { echo "relaybox did not start:" >&2; tail "$W/relaybox.log" >&2; exit 1; }

postfix stop >/dev/null 2>&1 || true
postsuper -d ALL >/dev/null 2>&1 || true
bench/postfix-nullclient.sh "$PF_PORT" "$DEAD_PORT"

mkdir -p "$W/empty"
printf 'public class E { public static void main(String[] a) { } }\n' > "$W/empty/E.java"
javac -d "$W/empty" "$W/empty/E.java"
cli_opts=$(sed -n 's/^RELAYBOX_CLI_JAVA_OPTS="\(.*\)"$/\1/p' packaging/src/bin/relaybox)

variants=(
  "relaybox sendmail, daemon up|$RB_SENDMAIL -t -i --drop-dir $W/drop-up"
  "relaybox sendmail --smtp, daemon up|$RB_SENDMAIL -t -i --smtp 127.0.0.1:$RB_PORT --drop-dir $W/drop-up"
  "relaybox sendmail --smtp, daemon down|$RB_SENDMAIL -t -i --smtp 127.0.0.1:$DEAD_PORT --drop-dir $W/drop-down"
  "postfix sendmail (postdrop)|/usr/sbin/sendmail -t -i"
  "empty JVM|java -cp $W/empty E"
  "empty JVM, CLI options|java $cli_opts -cp $W/empty E"
)
if [ -n "${BASELINE_TREE:-}" ]; then
  base_opts=$(sed -n 's/^RELAYBOX_CLI_JAVA_OPTS="\(.*\)"$/\1/p' "$BASELINE_TREE/packaging/src/bin/relaybox")
  variants+=(
    "before, daemon up|$W/base/sendmail -t -i --smtp 127.0.0.1:$RB_PORT --drop-dir $W/drop-up"
    "before, daemon down|$W/base/sendmail -t -i --smtp 127.0.0.1:$DEAD_PORT --drop-dir $W/drop-down"
    "empty JVM, before's CLI options|java $base_opts -cp $W/empty E"
  )
fi
if [ -n "${BASELINE_JAR:-}" ]; then
  variants+=(
    "baseline jar, daemon up|java $BASELINE_OPTS -jar $BASELINE_JAR sendmail -t -i --smtp 127.0.0.1:$RB_PORT --drop-dir $W/drop-up"
    "baseline jar, daemon down|java $BASELINE_OPTS -jar $BASELINE_JAR sendmail -t -i --smtp 127.0.0.1:$DEAD_PORT --drop-dir $W/drop-down"
  )
fi

if [ -n "$prio" ]; then
  for i in "${!variants[@]}"; do variants[$i]="${variants[$i]%%|*}|$prio ${variants[$i]#*|}"; done
fi
echo "== sendmail: $CALLS calls each, round-robin${prio:+, under $prio}; $(java -version 2>&1 | head -1); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
cat > "$W/timing.py" <<'PY'
import resource, statistics, subprocess, sys, time
calls = int(sys.argv[1])
variants = [line.rstrip("\n").split("|", 1) for line in sys.stdin if line.strip()]
msg = b"To: bench@example.net\nSubject: sendmail bench\n\none line of text\n"
wall = {name: [] for name, _ in variants}
cpu = {name: [] for name, _ in variants}
def used():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
for _ in range(calls):
    for name, cmd in variants:
        c0, t0 = used(), time.perf_counter()
        r = subprocess.run(cmd.split(), input=msg, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall[name].append((time.perf_counter() - t0) * 1000)
        cpu[name].append((used() - c0) * 1000)
        if r.returncode != 0:
            sys.exit(name + ": exit " + str(r.returncode) + ": " + r.stderr.decode(errors="replace"))
def p90(v):
    v = sorted(v)
    return v[max(0, int(round(0.9 * len(v))) - 1)]
print("%-34s %7s %7s %7s   (ms per call)" % ("", "median", "p90", "cpu"))
for name, _ in variants:
    print("%-34s %7.0f %7.0f %7.0f" % (name, statistics.median(wall[name]), p90(wall[name]), statistics.median(cpu[name])))
PY
printf '%s\n' "${variants[@]}" | python3 "$W/timing.py" "$CALLS"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Every call that said 0 left its message somewhere: check the counts.
sleep 1
down=$(find "$W/drop-down" -maxdepth 1 -name 'm.*' | wc -l)
queued=$(grep -c ' intake queued ' "$W/relaybox.log" 2>/dev/null || true)
picked=$(grep -c ' pickup queued ' "$W/relaybox.log" 2>/dev/null || true)
left=$(find "$W/drop-up" -maxdepth 1 -name 'm.*' | wc -l)
pf=$(mailq 2>/dev/null | grep -c '^[0-9A-F]' || true)
echo "check: the down drop directory holds $down messages; relaybox's log says queued $queued times over SMTP and $picked from the drop directory ($left still there); postfix's queue holds $pf"
