#!/usr/bin/env bash
# Lints the built packages and the unit, as CI runs it after `mvn -B verify`:
#   - the runtime layout: relaybox.jar's Class-Path names exactly the jars in lib/;
#   - lintian on the .deb: no errors (warnings and infos are printed);
#   - rpm -qip / -qlp / -K and rpmlint (with packaging/test/rpmlint.toml) on the .rpm;
#   - systemd-analyze verify on the unit inside the unpacked .deb, and the
#     systemd-analyze security exposure score (fails above RELAYBOX_MAX_EXPOSURE, default 2.0).
# Needs: lintian, rpm, rpmlint (Debian packages), systemd-analyze (optional). Root not needed.
# Ends with "lint: N passed, N failed" and exits non-zero when a check failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
target=packaging/target
deb=$(ls "$target"/relaybox_*_all.deb 2>/dev/null | head -1)
rpmf=$(ls "$target"/relaybox-*.noarch.rpm 2>/dev/null | head -1)
max_exposure=${RELAYBOX_MAX_EXPOSURE:-2.0}
passed=0
failed=0
failures=()
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { echo; echo "=== lint: $1"; }
ok() { passed=$((passed + 1)); echo "--- PASS: $1"; }
fail() { failed=$((failed + 1)); failures+=("$1"); echo "--- FAIL: $1"; }
have() { command -v "$1" >/dev/null 2>&1; }

if [ -z "$deb" ] || [ -z "$rpmf" ]; then
    echo "lint: packages not built (run mvn -B verify first): deb='$deb' rpm='$rpmf'"
    echo "lint: 0 passed, 1 failed"
    exit 1
fi

step "runtime layout: Class-Path of relaybox.jar = admin-cli/target/lib"
unzip -p admin-cli/target/relaybox.jar META-INF/MANIFEST.MF | tr -d '\r' \
    | awk '/^Class-Path:/{cp=1; sub(/^Class-Path: /,""); printf "%s",$0; next}
           cp && /^ /{sub(/^ /,""); printf "%s",$0; next} {cp=0}' \
    | tr ' ' '\n' | grep . | sort > "$work/classpath"
(cd admin-cli/target && ls lib/*.jar) | sort > "$work/lib"
if [ -s "$work/classpath" ] && diff "$work/classpath" "$work/lib"; then
    ok "layout ($(wc -l < "$work/lib") jars)"
else
    fail "layout: manifest Class-Path and lib/ differ"
fi

step "lintian $deb"
if have lintian; then
    lintian --info --display-info --fail-on error "$deb" | tee "$work/lintian.txt"
    rc=${PIPESTATUS[0]}
    echo "lintian: $(grep -c '^E:' "$work/lintian.txt") errors, $(grep -c '^W:' "$work/lintian.txt") warnings"
    if [ "$rc" = 0 ]; then ok lintian; else fail "lintian (exit $rc)"; fi
else
    fail "lintian not installed (apt-get install lintian)"
fi

step "rpm -qip / -qlp / -K $rpmf"
if have rpm; then
    if rpm -qip "$rpmf" && rpm -qlvp "$rpmf" && rpm -qp --requires --provides "$rpmf" \
        && rpm -Kv --nosignature "$rpmf"; then
        ok "rpm query"
    else
        fail "rpm query"
    fi
    # What the issue asks the package to declare and install.
    missing=0
    for want in "(java-17-headless or java-21-headless or java-25-headless)" MTA smtpdaemon "server(smtp)"; do
        rpm -qp --requires --provides "$rpmf" | grep -qxF "$want" || { echo "missing: $want"; missing=1; }
    done
    for f in /usr/bin/relaybox /usr/sbin/sendmail.relaybox /usr/bin/mailq.relaybox /etc/relaybox/relaybox.conf \
        /etc/relaybox/upstream.secret /usr/lib/systemd/system/relaybox.service /var/lib/relaybox \
        /usr/share/relaybox/relaybox.jar; do
        rpm -qlp "$rpmf" | grep -qxF "$f" || { echo "missing file: $f"; missing=1; }
    done
    rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' "$rpmf" > "$work/rpmmodes"
    grep -qxF -- "-rw-r----- root:relaybox /etc/relaybox/upstream.secret" "$work/rpmmodes" || { echo "upstream.secret mode/owner"; missing=1; }
    grep -qxF -- "drwxr-x--- relaybox:relaybox /var/lib/relaybox" "$work/rpmmodes" || { echo "/var/lib/relaybox mode/owner"; missing=1; }
    [ "$missing" = 0 ] && ok "rpm contents" || fail "rpm contents"
else
    fail "rpm not installed (apt-get install rpm)"
fi

step "rpmlint $rpmf"
if have rpmlint; then
    if rpmlint -c packaging/test/rpmlint.toml "$rpmf"; then ok rpmlint; else fail rpmlint; fi
else
    fail "rpmlint not installed (apt-get install rpmlint)"
fi

step "systemd-analyze verify / security"
if have systemd-analyze && [ -d /lib/systemd/system ]; then
    # Offline, in the unpacked .deb plus the host's own units (targets the unit refers to), so
    # ExecStart is checked against the packaged wrapper. verify reports bad values only as
    # messages, so any output is a failure.
    root="$work/root"
    mkdir -p "$root"
    dpkg-deb -x "$deb" "$root"
    cp -an /lib/systemd/system/. "$root/lib/systemd/system/"
    out=$(systemd-analyze verify --root="$root" /lib/systemd/system/relaybox.service 2>&1)
    rc=$?
    if [ "$rc" = 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify"; else echo "$out"; fail "systemd-analyze verify"; fi
    systemd-analyze security --offline=yes "$root/lib/systemd/system/relaybox.service" > "$work/security" 2>&1
    grep '✗' "$work/security"
    score=$(sed -n 's/.*Overall exposure level for relaybox.service: \([0-9.]*\).*/\1/p' "$work/security")
    echo "systemd-analyze security: exposure $score (fails above $max_exposure)"
    if [ -n "$score" ] && awk -v s="$score" -v m="$max_exposure" 'BEGIN{exit !(s <= m)}'; then
        ok "systemd-analyze security ($score)"
    else
        fail "systemd-analyze security (${score:-no score})"
    fi
else
    echo "systemd-analyze not available: unit not verified"
fi

echo
for f in "${failures[@]}"; do echo "lint FAILED: $f"; done
echo "lint: $passed passed, $failed failed"
[ "$failed" = 0 ]
