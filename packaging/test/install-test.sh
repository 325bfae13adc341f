#!/usr/bin/env bash
# Install test, done as a user would: a fresh Debian root (debootstrap, cached), the built .deb
# installed into it with apt (which pulls in Java), the daemon started on the shipped config the
# way relaybox.service starts it (same command, as the relaybox user with only
# CAP_NET_BIND_SERVICE, no new privileges), one message submitted through /usr/sbin/sendmail
# and one over SMTP on port 25, both expected in the outbox; an operator (group relaybox-ctl)
# may use the control socket but read no secret, key or queued mail; an upgrade from the
# one-group layout moves operators out of the service group and keeps queued mail; then apt
# remove (queue kept) and apt purge (queue gone).
# Then the .rpm, installed and erased with the host's rpm in a second fresh root (scriptlets,
# owners and modes; not an EL/Fedora host, so dependencies are not resolved).
#
# There is no systemd in the chroot: the unit's ExecStart runs under setpriv, in a private
# network namespace (so port 25 is ours alone) with /run/relaybox and /var/lib/relaybox created
# as RuntimeDirectory= and StateDirectory= would create them.
#
# Needs root, debootstrap, unshare and setpriv (util-linux), and swaks or python3 for the SMTP
# message. Cache: $RELAYBOX_CI_CACHE (default /var/cache/relaybox-ci) keeps the debootstrapped
# base as a tarball and apt's downloaded .debs; delete it to start cold.
# Prints one PASS/FAIL/SKIP line per step and ends with "install-test: N passed, N failed".
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${RELAYBOX_CI_CACHE:-/var/cache/relaybox-ci}
suite=${RELAYBOX_CI_SUITE:-bookworm}
mirror=${RELAYBOX_CI_MIRROR:-http://deb.debian.org/debian}
base_tar=$cache/$suite-minbase.tar
archives=$cache/apt-archives
deadline_start=${RELAYBOX_CI_START_SECONDS:-60}
deadline_mail=${RELAYBOX_CI_MAIL_SECONDS:-30}

log() { echo "[install-test $(date -u +%T)] $*"; }

# ---- results (shared with the phases that run inside namespaces, through a file) ----
record() { # record PASS|FAIL|SKIP step [detail]
    echo "$1|$2|${3:-}" >> "$results"
    echo "--- $1: $2${3:+ ($3)}"
}
check() { # check step command...: PASS if the command succeeds
    local name=$1
    shift
    if "$@"; then record PASS "$name"; else record FAIL "$name"; fi
}
in_root() { chroot "$root" "$@"; }
thread_nices() { # pid name-prefix: the distinct nice values of that process's threads so named
    local t
    for t in /proc/"$1"/task/*; do
        case "$(cat "$t/comm" 2>/dev/null)" in "$2"*) sed 's/^.*) //' "$t/stat" | cut -d' ' -f17 ;; esac
    done | sort -u | tr '\n' ' '
}
# Inside a phase's own mount namespace: make the root a mount point of its own (as / is on a
# real host: without it the JVM finds no mount entry for the queue's file system) and give it
# /proc. Both mounts end with the namespace.
enter_root() {
    mount --bind "$1" "$1"
    mount -t proc proc "$1/proc"
}

# =====================================================================================
# Phase "install": host network (apt needs the mirror), private mounts.
# =====================================================================================
phase_install() {
    enter_root "$root"
    mkdir -p "$archives/partial"
    mount --bind "$archives" "$root/var/cache/apt/archives"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
    local t0=$SECONDS
    if ! in_root apt-get update -qq; then
        record FAIL "apt-get update in the fresh root"
        return
    fi
    if in_root apt-get install -y -q --no-install-recommends "/tmp/$deb_name" > "$work/apt-install.log" 2>&1; then
        record PASS "apt install ./$deb_name (pulls Java)" "$((SECONDS - t0)) s"
    else
        tail -30 "$work/apt-install.log"
        record FAIL "apt install ./$deb_name (pulls Java)"
        return
    fi
    grep -E '^(Setting up|relaybox:)' "$work/apt-install.log" | grep -E 'openjdk|default-jre|relaybox' || true
    # Keep the download cache to what the mirror still serves.
    in_root apt-get autoclean -qq || true

    local jv
    jv=$(in_root java -version 2>&1)
    echo "$jv"
    check "java on PATH is 17+" grep -Eq 'version "(1[7-9]|[2-9][0-9])' <<< "$jv"
    check "relaybox user and group" in_root sh -c 'getent passwd relaybox && getent group relaybox'
    check "operator group relaybox-ctl, with the relaybox user in it (to give the socket its group)" \
        in_root sh -c 'getent group relaybox-ctl && id -nG relaybox | tr " " "\n" | grep -qx relaybox-ctl'
    check "nobody but relaybox in the service group" \
        test -z "$(in_root getent group relaybox | cut -d: -f4 | tr ',' '\n' | grep -vx relaybox)"
    check "/var/lib/relaybox 0750 relaybox:relaybox" \
        test "$(in_root stat -c '%a %U:%G' /var/lib/relaybox 2>/dev/null)" = "750 relaybox:relaybox"
    check "/etc/relaybox/upstream.secret 0640 root:relaybox" \
        test "$(in_root stat -c '%a %U:%G' /etc/relaybox/upstream.secret 2>/dev/null)" = "640 root:relaybox"
    check "/etc/relaybox/dkim 0750 root:relaybox" \
        test "$(in_root stat -c '%a %U:%G' /etc/relaybox/dkim 2>/dev/null)" = "750 root:relaybox"
    check "conffiles registered" sh -c "chroot '$root' dpkg-query --showformat='\${Conffiles}\n' --show relaybox \
        | grep -c -e /etc/default/relaybox | grep -qx 1"
    # postinst copies /etc/relaybox's files from /usr/share/relaybox/conf: dpkg must own no
    # directory there, or a purge that keeps DKIM keys ends in "directory not empty".
    check "dpkg owns nothing in /etc/relaybox" sh -c "! chroot '$root' dpkg -S /etc/relaybox >/dev/null 2>&1"
    check "config copied from its template" \
        cmp -s "$root/etc/relaybox/relaybox.conf" "$root/usr/share/relaybox/conf/relaybox.conf"
    check "sendmail, mailq and relaybox on PATH" \
        test -x "$root/usr/sbin/sendmail" -a -x "$root/usr/bin/mailq" -a -x "$root/usr/bin/relaybox"
    check "class-data archive for sendmail written (/var/cache/relaybox/cli.jsa)" \
        test -s "$root/var/cache/relaybox/cli.jsa"
    check "class-data archive for the other commands written (/var/cache/relaybox/cli-commands.jsa)" \
        test -s "$root/var/cache/relaybox/cli-commands.jsa"
    check "dpkg rewrites it when a JDK changes (file trigger on /usr/lib/jvm)" \
        grep -qx '/usr/lib/jvm relaybox/noawait' "$root/var/lib/dpkg/triggers/File"
    check "unit installed" test -f "$root/lib/systemd/system/relaybox.service"
    check "unit enabled (deb-systemd-helper)" \
        test -L "$root/etc/systemd/system/multi-user.target.wants/relaybox.service"
}

# =====================================================================================
# Phase "run": a private network namespace (loopback only), private mounts.
# =====================================================================================
phase_run() {
    enter_root "$root"
    ip link set lo up
    local unit=$root/lib/systemd/system/relaybox.service
    local exec_start
    exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
    log "ExecStart from the unit: $exec_start"

    # The configuration exactly as shipped: intake on 127.0.0.1:25 and the outbox upstream, the
    # default the Debian package starts the service on. The outbox's .eml files stand in for
    # the ESP here.
    check "shipped relaybox.conf has the outbox upstream" \
        grep -qx 'type = "outbox"' "$root/etc/relaybox/relaybox.conf"
    # RuntimeDirectory=relaybox and StateDirectory=relaybox, with the unit's modes, owned by the user.
    install -d -m "$(sed -n 's/^RuntimeDirectoryMode=//p' "$unit")" "$root/run/relaybox"
    in_root chmod "$(sed -n 's/^StateDirectoryMode=//p' "$unit")" /var/lib/relaybox
    in_root chown relaybox:relaybox /run/relaybox /var/lib/relaybox
    # CacheDirectory=relaybox/daemon: the daemon's class-data archive, its user's alone.
    local cache_dir
    cache_dir=/var/cache/$(sed -n 's/^CacheDirectory=//p' "$unit")
    in_root install -d -m "$(sed -n 's/^CacheDirectoryMode=//p' "$unit")" -o relaybox -g relaybox "$cache_dir"

    # User=, Group=, AmbientCapabilities=, CapabilityBoundingSet=, NoNewPrivileges= as setpriv.
    local as_unit=(chroot "$root" setpriv --reuid=relaybox --regid=relaybox --init-groups
        --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service
        --bounding-set=-all,+net_bind_service --no-new-privs
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
    # The emulation itself: the relaybox user, CAP_NET_BIND_SERVICE (bit 10) and nothing else.
    local status
    status=$("${as_unit[@]}" sh -c 'id -un; grep -E "^(CapAmb|CapEff|CapBnd|NoNewPrivs)" /proc/self/status')
    echo "$status"
    check "ExecStart credentials: relaybox, only CAP_NET_BIND_SERVICE, no new privileges" \
        test "$(echo "$status" | tr -s ' \t' ' ' | tr '\n' ' ')" \
        = "relaybox CapEff: 0000000000000400 CapBnd: 0000000000000400 CapAmb: 0000000000000400 NoNewPrivs: 1 "
    # UMask=0027 as well, then exactly the unit's ExecStart.
    # shellcheck disable=SC2086
    "${as_unit[@]}" sh -c 'umask 0027; exec "$@"' sh $exec_start > "$work/daemon.log" 2>&1 &
    local daemon=$!
    local t0=$SECONDS up=0 first_ms
    first_ms=$(date +%s%N)
    while [ $((SECONDS - t0)) -lt "$deadline_start" ]; do
        if ! kill -0 "$daemon" 2>/dev/null; then break; fi
        if (exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null; then up=1; break; fi
        sleep 0.1
    done
    first_ms=$((($(date +%s%N) - first_ms) / 1000000))
    if [ "$up" != 1 ]; then
        wait "$daemon" 2>/dev/null
        local rc=$?
        echo "daemon output (exit $rc):"
        tail -30 "$work/daemon.log"
        if grep -q 'placeholder entry point' "$work/daemon.log"; then
            # admin-cli's relaybox.admin.Main is still the packaging placeholder: the daemon and
            # the sendmail command do not exist yet, so there is nothing to send through.
            record SKIP "daemon listens on 127.0.0.1:25 (as the relaybox user)" "placeholder CLI, no daemon yet"
            record SKIP "message through /usr/sbin/sendmail arrives" "placeholder CLI"
            record SKIP "message over SMTP arrives" "placeholder CLI"
            record SKIP "daemon stops cleanly on SIGTERM" "placeholder CLI"
        else
            record FAIL "daemon listens on 127.0.0.1:25 (as the relaybox user)" "exit $rc, see output above"
        fi
        return
    fi
    record PASS "daemon listens on 127.0.0.1:25 (as the relaybox user)" "$((SECONDS - t0)) s"
    check "daemon runs as relaybox" sh -c "test \"\$(chroot '$root' stat -c %U /proc/$daemon)\" = relaybox"

    local token=$$-$RANDOM
    # 1. As PHP's mail() does it: sendmail -t -i, as an unprivileged web user.
    local ms0
    ms0=$(date +%s%N)
    printf 'To: rcpt@example.test\nFrom: app@example.test\nSubject: via-sendmail-%s\n\nhello from sendmail\n' "$token" \
        | chroot "$root" runuser -u www-data -- /usr/sbin/sendmail -t -i -f app@example.test \
        > "$work/sendmail.log" 2>&1
    local src=$? ms=$((($(date +%s%N) - ms0) / 1000000))
    cat "$work/sendmail.log"
    if [ "$src" = 0 ]; then record PASS "/usr/sbin/sendmail -t -i exits 0" "$ms ms wall"; else record FAIL "/usr/sbin/sendmail -t -i exits 0" "exit $src"; fi

    # 1b. A class-data archive the JVM cannot use (as after a JDK update, before the trigger
    # rewrote it) costs speed only: sendmail -bs still answers, and its stdout is SMTP alone.
    cp "$root/var/cache/relaybox/cli.jsa" "$work/cli.jsa.good"
    echo "not an archive" > "$root/var/cache/relaybox/cli.jsa"
    printf 'EHLO client.example.test\r\nQUIT\r\n' \
        | chroot "$root" runuser -u www-data -- /usr/sbin/sendmail -bs > "$work/bs-stale.out" 2> "$work/bs-stale.err"
    local bsrc=$?
    cat "$work/bs-stale.out" "$work/bs-stale.err"
    check "stale class-data archive: sendmail -bs exits 0, stdout only SMTP replies, nothing on stderr" \
        sh -c "[ $bsrc = 0 ] && head -1 '$work/bs-stale.out' | grep -q '^220 ' \
               && ! grep -qv '^[0-9][0-9][0-9][ -]' '$work/bs-stale.out' && [ ! -s '$work/bs-stale.err' ]"
    cp "$work/cli.jsa.good" "$root/var/cache/relaybox/cli.jsa"

    # 2. Over SMTP on port 25.
    local smtp_ok=1
    if command -v swaks >/dev/null; then
        swaks --server 127.0.0.1:25 --from app@example.test --to rcpt@example.test \
            --header "Subject: via-smtp-$token" --body "hello over SMTP" > "$work/swaks.log" 2>&1 || smtp_ok=0
        grep -E '^ *(<-|->) *(250|[45][0-9][0-9])' "$work/swaks.log" | tail -4
    elif command -v python3 >/dev/null; then
        python3 - "$token" > "$work/swaks.log" 2>&1 <<'PY' || smtp_ok=0
import smtplib, sys
msg = "From: app@example.test\r\nTo: rcpt@example.test\r\nSubject: via-smtp-%s\r\n\r\nhello over SMTP\r\n" % sys.argv[1]
with smtplib.SMTP("127.0.0.1", 25, timeout=30) as s:
    print(s.sendmail("app@example.test", ["rcpt@example.test"], msg))
PY
    else
        smtp_ok=0
        echo "neither swaks nor python3 available" > "$work/swaks.log"
    fi
    if [ "$smtp_ok" = 1 ]; then record PASS "SMTP submission answered 250"; else cat "$work/swaks.log"; record FAIL "SMTP submission answered 250"; fi

    # Both must arrive in the outbox (the fake upstream).
    local outbox=$root/var/lib/relaybox/outbox got_sendmail=0 got_smtp=0
    t0=$SECONDS
    while [ $((SECONDS - t0)) -lt "$deadline_mail" ]; do
        grep -rqs "via-sendmail-$token" "$outbox" && got_sendmail=1
        grep -rqs "via-smtp-$token" "$outbox" && got_smtp=1
        [ "$got_sendmail$got_smtp" = 11 ] && break
        sleep 0.5
    done
    in_root ls -la /var/lib/relaybox/outbox 2>/dev/null | head
    [ "$got_sendmail" = 1 ] && record PASS "message through /usr/sbin/sendmail arrives" \
        || record FAIL "message through /usr/sbin/sendmail arrives" "not in $outbox after ${deadline_mail}s"
    [ "$got_smtp" = 1 ] && record PASS "message over SMTP arrives" \
        || record FAIL "message over SMTP arrives" "not in $outbox after ${deadline_mail}s"

    # README "Deliveries before intake": the packaged -XX:ThreadPriorityPolicy=1 and
    # -XX:JavaPriority1_To_OSPriority=10 put the intake's threads at nice 10 without any
    # privilege, below the syncer that every 250 waits for.
    check "intake threads at nice 10, queue-spool-sync at nice 0 (the relaybox user)" \
        test "$(thread_nices "$daemon" intake-io)/$(thread_nices "$daemon" queue-spool-sy)" = "10 /0 "

    operator_checks

    # systemd stops the unit with SIGTERM and waits TimeoutStopSec; 0 or 143 is a clean stop.
    kill -TERM "$daemon"
    local waited=0
    while kill -0 "$daemon" 2>/dev/null && [ "$waited" -lt 120 ]; do sleep 0.5; waited=$((waited + 1)); done
    wait "$daemon" 2>/dev/null
    local rc=$?
    if [ "$rc" = 0 ] || [ "$rc" = 143 ]; then record PASS "daemon stops cleanly on SIGTERM" "exit $rc"
    else tail -20 "$work/daemon.log"; record FAIL "daemon stops cleanly on SIGTERM" "exit $rc"; fi

    # The clean stop wrote the daemon's class-data archive; the next start maps it, without a
    # word about it in the log.
    check "daemon class-data archive written at the clean stop ($cache_dir/daemon.jsa, the relaybox user's)" \
        test -s "$root$cache_dir/daemon.jsa" -a "$(in_root stat -c %U "$cache_dir/daemon.jsa")" = relaybox
    # shellcheck disable=SC2086
    "${as_unit[@]}" sh -c 'umask 0027; exec "$@"' sh $exec_start > "$work/daemon2.log" 2>&1 &
    daemon=$!
    local second_ms up2=0
    second_ms=$(date +%s%N)
    t0=$SECONDS
    while [ $((SECONDS - t0)) -lt "$deadline_start" ] && kill -0 "$daemon" 2>/dev/null; do
        if (exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null; then up2=1; break; fi
        sleep 0.1
    done
    second_ms=$((($(date +%s%N) - second_ms) / 1000000))
    if [ "$up2" = 1 ] && ! grep -q -e '\]\[cds' -e 'shared archive' "$work/daemon2.log"; then
        record PASS "daemon starts again from its archive, quietly" "listening after $second_ms ms (first start $first_ms ms)"
    else tail -20 "$work/daemon2.log"; record FAIL "daemon starts again from its archive, quietly"; fi
    check "the second start maps its classes from the archive" \
        in_root grep -q 'daemon\.jsa' "/proc/$daemon/maps"
    kill -TERM "$daemon" 2>/dev/null
    waited=0
    while kill -0 "$daemon" 2>/dev/null && [ "$waited" -lt 120 ]; do sleep 0.5; waited=$((waited + 1)); done
    kill -KILL "$daemon" 2>/dev/null
    wait "$daemon" 2>/dev/null

    # The daemon stopped: root reads the queue with --offline. Its first line waits for MapDB's
    # classes, which the commands' class-data archive holds (its trial run lists a store
    # offline), so the same command line again with class loading logged must show MapDB from it.
    ms0=$(date +%s%N)
    in_root relaybox queue list --offline > "$work/offline.log" 2>&1
    rc=$? ms=$((($(date +%s%N) - ms0) / 1000000))
    cat "$work/offline.log"
    if [ "$rc" = 0 ]; then record PASS "daemon stopped: relaybox queue list --offline exits 0" "$ms ms wall"
    else record FAIL "daemon stopped: relaybox queue list --offline exits 0" "exit $rc"; fi
    local cli_opts
    cli_opts=$(sed -n 's/^RELAYBOX_CLI_JAVA_OPTS="\(.*\)"$/\1/p' "$root/usr/bin/relaybox")
    # shellcheck disable=SC2086
    in_root java $cli_opts -Xshare:auto -XX:SharedArchiveFile=/var/cache/relaybox/cli-commands.jsa \
        -Xlog:class+load=info:stdout -cp /usr/share/relaybox/relaybox.jar relaybox.admin.Main queue list --offline \
        > "$work/offline-classes.log" 2>&1
    grep -m1 'org.mapdb.DBMaker ' "$work/offline-classes.log"
    check "queue list --offline loads MapDB from the class-data archive" \
        grep -q 'org.mapdb.DBMaker source: shared objects file' "$work/offline-classes.log"
}

# As an operator (a user in relaybox-ctl, as the README says to add one): the control socket
# works; upstream.secret, the DKIM keys and the queue's files cannot be read. A user outside
# the group cannot use the socket either.
operator_checks() {
    in_root adduser --quiet --disabled-password --gecos "" alice >/dev/null
    in_root adduser --quiet alice relaybox-ctl >/dev/null
    # A DKIM key made as the README says: keygen as root, then given to the service.
    in_root relaybox dkim keygen --domain example.test --selector s1 --out /etc/relaybox/dkim > "$work/keygen.log" 2>&1
    in_root chown relaybox: /etc/relaybox/dkim/example.test.s1.pem
    check "dkim keygen made a key to protect" test -f "$root/etc/relaybox/dkim/example.test.s1.pem"
    local as_alice=(chroot "$root" runuser -u alice --)
    "${as_alice[@]}" relaybox status > "$work/alice-status.log" 2>&1
    local rc=$?
    cat "$work/alice-status.log"
    # 0 ok, 1 degraded: either way the daemon answered; 3 would be "no permission on the socket".
    if [ "$rc" = 0 ] || [ "$rc" = 1 ]; then record PASS "operator: relaybox status works" "exit $rc"
    else record FAIL "operator: relaybox status works" "exit $rc"; fi
    check "operator: relaybox queue list works" "${as_alice[@]}" relaybox queue list
    check "operator: cannot read upstream.secret" sh -c "! chroot '$root' runuser -u alice -- cat /etc/relaybox/upstream.secret"
    check "operator: cannot read dkim/*.pem" sh -c "! chroot '$root' runuser -u alice -- \
        sh -c 'cat /etc/relaybox/dkim/*.pem' >/dev/null 2>&1"
    check "operator: cannot list the spool" sh -c "! chroot '$root' runuser -u alice -- ls /var/lib/relaybox/spool"
    # Every file under the queue directory, whatever its name: none readable by the operator.
    local readable
    readable=$(chroot "$root" find /var/lib/relaybox /etc/relaybox/dkim -type f 2>/dev/null \
        | chroot "$root" runuser -u alice -- sh -c 'while read -r f; do [ -r "$f" ] && echo "$f"; done')
    check "operator: no file of the queue or the keys readable" test -z "$readable"
    [ -n "$readable" ] && echo "readable by the operator: $readable"
    chroot "$root" runuser -u www-data -- relaybox status > /dev/null 2>&1
    rc=$?
    if [ "$rc" = 3 ]; then record PASS "non-operator: control socket refused" "exit 3"
    else record FAIL "non-operator: control socket refused" "exit $rc"; fi
    # The key was only there to be protected; phase_remove makes its own to see purge keep it.
    rm -f "$root/etc/relaybox/dkim/example.test.s1.pem"
}

# =====================================================================================
# Phase "remove": host network, private mounts. remove keeps the queue, purge deletes it.
# =====================================================================================
phase_remove() {
    enter_root "$root"
    export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
    # Something in the queue, as there would be on a real host.
    in_root install -d -o relaybox -g relaybox -m 0750 /var/lib/relaybox/spool
    in_root sh -c 'echo queued > /var/lib/relaybox/spool/keep-me && chown relaybox:relaybox /var/lib/relaybox/spool/keep-me'

    # An upgrade from the one-group layout: no relaybox-ctl, an operator added to relaybox as the
    # old README said, group-readable queue files. Reinstalling runs postinst as an upgrade does.
    in_root sh -c 'gpasswd -d relaybox relaybox-ctl; gpasswd -d alice relaybox-ctl; groupdel relaybox-ctl' >/dev/null 2>&1
    in_root adduser --quiet alice relaybox
    in_root chmod -R g+rX /var/lib/relaybox/spool
    if in_root dpkg -i "/tmp/$deb_name" > "$work/upgrade.log" 2>&1; then record PASS "upgrade from the one-group layout"
    else tail -20 "$work/upgrade.log"; record FAIL "upgrade from the one-group layout"; fi
    grep '^relaybox:' "$work/upgrade.log"
    check "upgrade: operator moved to relaybox-ctl, out of relaybox" \
        test "$(in_root id -nG alice | tr ' ' '\n' | grep -x -e relaybox -e relaybox-ctl)" = relaybox-ctl
    check "upgrade: relaybox user in relaybox-ctl" sh -c "chroot '$root' id -nG relaybox | tr ' ' '\n' | grep -qx relaybox-ctl"
    check "upgrade: queued mail kept" test "$(cat "$root/var/lib/relaybox/spool/keep-me")" = queued
    check "upgrade: queue files no longer group-readable" \
        test -z "$(in_root find /var/lib/relaybox/spool -perm /077)"

    if in_root apt-get remove -y -q relaybox > "$work/remove.log" 2>&1; then record PASS "apt remove relaybox"
    else tail -20 "$work/remove.log"; record FAIL "apt remove relaybox"; return; fi
    check "remove: program files gone" test ! -e "$root/usr/share/relaybox/relaybox.jar" -a ! -e "$root/usr/sbin/sendmail"
    check "remove: queue kept" test -f "$root/var/lib/relaybox/spool/keep-me"
    check "remove: config kept" test -f "$root/etc/relaybox/relaybox.conf"
    check "remove: class-data archive gone" test ! -e "$root/var/cache/relaybox"

    # An operator's DKIM key: purge keeps it, says so, and dpkg (which owns no directory under
    # /etc/relaybox) has nothing to warn about.
    in_root sh -c 'umask 077 && echo key > /etc/relaybox/dkim/example.test.s2.pem'
    if in_root apt-get purge -y -q relaybox > "$work/purge.log" 2>&1; then record PASS "apt purge relaybox"
    else tail -20 "$work/purge.log"; record FAIL "apt purge relaybox"; return; fi
    check "purge: queue gone" test ! -e "$root/var/lib/relaybox"
    check "purge: dpkg does not warn about a directory" sh -c "! grep -q 'not empty' '$work/purge.log'"
    check "purge: the DKIM key kept, and said so" sh -c "test -f '$root/etc/relaybox/dkim/example.test.s2.pem' \
        && grep -q 'kept the DKIM private keys' '$work/purge.log'"
    check "purge: nothing else left in /etc/relaybox" \
        test "$(find "$root/etc/relaybox" -type f)" = "$root/etc/relaybox/dkim/example.test.s2.pem"
    rm -rf "$root/etc/relaybox"
    check "purge: statoverride gone" sh -c "! chroot '$root' dpkg-statoverride --list /etc/relaybox/upstream.secret"
    check "purge: dpkg forgot relaybox" sh -c "! chroot '$root' dpkg -s relaybox >/dev/null 2>&1"
}

# =====================================================================================
# Phase "rpm": the .rpm installed with the host's rpm into a second fresh Debian root. Not an
# EL/Fedora host (so --nodeps: the Java package names are theirs), but the scriptlets and
# ownership are real: %pre must create the user before rpm lays out files owned by it.
# =====================================================================================
phase_rpm() {
    enter_root "$rpm_root"
    local r=(rpm --root "$rpm_root" --nodeps)
    in_rpm_root() { chroot "$rpm_root" "$@"; }
    rpm --root "$rpm_root" --initdb
    # The path is the host's: rpm reads the package before it enters the root for scriptlets.
    if "${r[@]}" -ivh "$rpm_root/tmp/$rpm_name" > "$work/rpm-install.log" 2>&1; then record PASS "rpm -ivh (scriptlets run)"
    else cat "$work/rpm-install.log"; record FAIL "rpm -ivh (scriptlets run)"; return; fi
    cat "$work/rpm-install.log"
    check "rpm: %pre created the relaybox user" in_rpm_root getent passwd relaybox
    check "rpm: %pre created relaybox-ctl with the relaybox user in it" \
        sh -c "chroot '$rpm_root' id -nG relaybox | tr ' ' '\n' | grep -qx relaybox-ctl"
    check "rpm: /var/lib/relaybox 0750 relaybox:relaybox" \
        test "$(in_rpm_root stat -c '%a %U:%G' /var/lib/relaybox 2>/dev/null)" = "750 relaybox:relaybox"
    check "rpm: upstream.secret 0640 root:relaybox" \
        test "$(in_rpm_root stat -c '%a %U:%G' /etc/relaybox/upstream.secret 2>/dev/null)" = "640 root:relaybox"
    check "rpm: /etc/relaybox/dkim 0750 root:relaybox" \
        test "$(in_rpm_root stat -c '%a %U:%G' /etc/relaybox/dkim 2>/dev/null)" = "750 root:relaybox"
    check "rpm: rpm -V clean" "${r[@]}" -V relaybox
    in_rpm_root sh -c 'echo queued > /var/lib/relaybox/keep-me'
    if "${r[@]}" -e relaybox > "$work/rpm-erase.log" 2>&1; then record PASS "rpm -e"
    else cat "$work/rpm-erase.log"; record FAIL "rpm -e"; return; fi
    check "rpm -e: program files gone" test ! -e "$rpm_root/usr/share/relaybox/relaybox.jar"
    check "rpm -e: no class-data archive left" test ! -e "$rpm_root/var/cache/relaybox"
    check "rpm -e: queue with mail kept" test -f "$rpm_root/var/lib/relaybox/keep-me"
}

# ---- entry points of the namespaced phases ----
if [ -n "${RELAYBOX_IT_PHASE:-}" ]; then
    "phase_$RELAYBOX_IT_PHASE"
    exit 0
fi

# =====================================================================================
# Main: prepare the cached base and a fresh root, run the phases, report, clean up.
# =====================================================================================
if [ "$(id -u)" != 0 ]; then
    echo "install-test: needs root (debootstrap, chroot, namespaces); skipped"
    exit 0
fi
for tool in debootstrap unshare chroot setpriv ip; do
    if ! command -v "$tool" >/dev/null; then
        echo "install-test: $tool is missing (apt-get install debootstrap util-linux iproute2)"
        echo "install-test: 0 passed, 1 failed"
        exit 1
    fi
done
deb=$(ls "$repo"/packaging/target/relaybox_*_all.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
    echo "install-test: no packaging/target/relaybox_*_all.deb (run mvn -B verify first)"
    echo "install-test: 0 passed, 1 failed"
    exit 1
fi
deb_name=$(basename "$deb")

mkdir -p "$cache"
exec 9> "$cache/lock"
flock 9   # one install test at a time per cache

total0=$SECONDS
if [ ! -s "$base_tar" ]; then
    log "no cached base: debootstrap --variant=minbase $suite (cold start)"
    t0=$SECONDS
    rm -rf --one-file-system "$cache/base.tmp"
    if ! debootstrap --variant=minbase "$suite" "$cache/base.tmp" "$mirror" > "$cache/debootstrap.log" 2>&1; then
        tail -20 "$cache/debootstrap.log"
        echo "install-test: debootstrap failed"
        echo "install-test: 0 passed, 1 failed"
        exit 1
    fi
    rm -f "$cache/base.tmp"/var/cache/apt/archives/*.deb
    tar -C "$cache/base.tmp" -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
    rm -rf --one-file-system "$cache/base.tmp"
    log "base cached in $base_tar ($((SECONDS - t0)) s)"
fi

# Under the lock no other run is active: a run.* left behind was killed half-way.
for stale in "$cache"/run.*; do
    [ -d "$stale" ] || continue
    if grep -q " $stale/" /proc/self/mountinfo; then
        log "stale $stale still has mounts; left in place"
    else
        log "removing stale $stale"
        rm -rf --one-file-system "$stale"
    fi
done
work=$(mktemp -d "$cache/run.XXXXXX")
root=$work/root
results=$work/results
: > "$results"
cleanup() {
    # The phases' mounts lived in their own mount namespaces and are gone with them; refuse to
    # delete anything that is still a mount point, and never cross into another file system.
    if grep -q " $work/" /proc/self/mountinfo; then
        echo "install-test: something is still mounted under $work; left in place"
    else
        local t=$SECONDS
        rm -rf --one-file-system "$work"
        log "removed the test roots in $((SECONDS - t)) s"
    fi
}
trap cleanup EXIT
mkdir -p "$root"
t0=$SECONDS
tar -C "$root" -xf "$base_tar"
install -m 0644 "$deb" "$root/tmp/$deb_name"
log "fresh root from the cached base in $((SECONDS - t0)) s"
phases=(install run remove)
rpmf=$(ls "$repo"/packaging/target/relaybox-*.noarch.rpm 2>/dev/null | head -1)
rpm_root=$work/rpm-root
rpm_name=
if [ -n "$rpmf" ] && command -v rpm >/dev/null; then
    rpm_name=$(basename "$rpmf")
    mkdir -p "$rpm_root"
    tar -C "$rpm_root" -xf "$base_tar"
    install -m 0644 "$rpmf" "$rpm_root/tmp/$rpm_name"
    phases+=(rpm)
else
    log "no .rpm or no rpm tool: the rpm phase is skipped"
fi

export repo cache suite mirror archives work root results deb_name deadline_start deadline_mail rpm_root rpm_name
deb_ok=1
for phase in "${phases[@]}"; do
    if [ "$deb_ok" = 0 ] && [ "$phase" != rpm ]; then continue; fi
    t0=$SECONDS
    log "phase $phase"
    case $phase in
        run) ns=(unshare --mount --net --fork) ;;
        *) ns=(unshare --mount --fork) ;;
    esac
    RELAYBOX_IT_PHASE=$phase "${ns[@]}" bash "$here/install-test.sh"
    log "phase $phase took $((SECONDS - t0)) s"
    if [ "$phase" = install ] && ! grep -q '^PASS|apt install' "$results"; then
        log "install failed: skipping the deb's later phases"
        deb_ok=0
    fi
done

passed=$(grep -c '^PASS|' "$results")
failed=$(grep -c '^FAIL|' "$results")
skipped=$(grep -c '^SKIP|' "$results")
echo
grep '^FAIL|' "$results" | while IFS='|' read -r _ step detail; do echo "install-test FAILED: $step${detail:+ ($detail)}"; done
grep '^SKIP|' "$results" | while IFS='|' read -r _ step detail; do echo "install-test skipped: $step${detail:+ ($detail)}"; done
# Clean up now, so that the summary stays the last line.
cleanup
trap - EXIT
log "total $((SECONDS - total0)) s"
echo "install-test: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
