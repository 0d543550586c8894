#!/usr/bin/env bash
# The Debian package: built with `cargo deb` (cargo-deb installed when missing), installed
# into a throwaway root (dpkg --root, maintainer scripts run with DPKG_ROOT), checked
# (binary, unit, conffile /etc/mailroom/mailroom.toml, the mailroom user and group, the
# data directory /var/lib/mailroom 0750 theirs), then the server is started from the
# installed unit's ExecStart, inside that root (chroot, the host's libraries bound in
# read-only) as the package's user, in a private network namespace (so the standard
# ports 143, 110 and 24 of the default configuration clash with nothing): it must listen
# where the configuration says, answer IMAP, POP3 and LMTP, make its data directory's
# files as mailroom, and stop on SIGTERM. Nothing outside the throwaway root changes.
# Usage: scripts/package.sh      (as root; DEB_PROFILE=dev for a quicker debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$(pwd)
PROFILE=${DEB_PROFILE:-release}
if ! cargo deb --version >/dev/null 2>&1; then
    echo "installing cargo-deb"
    cargo install cargo-deb --locked
fi
if [ "$PROFILE" = release ]; then
    cargo deb -p mailroom --locked
else
    cargo deb -p mailroom --locked --profile "$PROFILE"
fi
DEB=$(ls -t target/debian/mailroom_*.deb | head -1)
echo "package: $DEB"
dpkg-deb --info "$DEB" | sed -n '/Package:/,$p'
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-deb.XXXXXX")
R=$WORK/root
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
fail() { echo "FAIL $*" >&2; exit 1; }

# A throwaway root: an empty dpkg database and the base accounts useradd needs.
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/etc" "$R/usr/sbin"
touch "$R/var/lib/dpkg/status"
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'root:x:0:' >"$R/etc/group"
echo 'root:*:19000:0:99999:7:::' >"$R/etc/shadow"
echo 'root:*::' >"$R/etc/gshadow"
chmod 640 "$R/etc/shadow" "$R/etc/gshadow"
dpkg --root="$R" --force-script-chrootless --force-depends --log="$WORK/dpkg.log" -i "$DEB"
dpkg --root="$R" -s mailroom | grep -q '^Status: install ok installed' || fail "not installed"
dpkg --root="$R" -s mailroom | grep -q '/etc/mailroom/mailroom.toml' || fail "no conffile"
[ -x "$R/usr/bin/mailroom" ] || fail "no /usr/bin/mailroom"
UNIT=$R/lib/systemd/system/mailroom.service
[ -f "$UNIT" ] || fail "no unit"
for k in 'User=mailroom' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ExecReload='; do
    grep -q "^$k" "$UNIT" || fail "unit lacks $k"
done
for s in imap imaps pop3 pop3s lmtp; do
    grep -q "^FileDescriptorName=$s\$" "$R/lib/systemd/system/mailroom-$s.socket" \
        || fail "no socket unit mailroom-$s.socket"
done
grep -q '^mailroom:' "$R/etc/passwd" || fail "no mailroom user"
grep -q '^mailroom:' "$R/etc/group" || fail "no mailroom group"
uid=$(awk -F: '$1=="mailroom"{print $3}' "$R/etc/passwd")
gid=$(awk -F: '$1=="mailroom"{print $4}' "$R/etc/passwd")
[ "$(stat -c '%u:%g %a' "$R/var/lib/mailroom")" = "$uid:$gid 750" ] \
    || fail "data directory: $(stat -c '%u:%g %a' "$R/var/lib/mailroom")"
grep -q '^data_dir = "/var/lib/mailroom"' "$R/etc/mailroom/mailroom.toml" || fail "config"
echo "PASS installed: binary, unit, /etc/mailroom/mailroom.toml, user $uid:$gid, /var/lib/mailroom"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify "$UNIT" 2>&1 | grep -v 'is not executable' | tee "$WORK/verify" || true
    [ ! -s "$WORK/verify" ] || fail "systemd-analyze verify"
fi

# The unit's command line, in the installed root, as its user.
EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT")
echo "ExecStart: $EXEC"
# The package made /lib (its unit is in /lib/systemd/system): the host's multiarch
# library directories are bound into both /lib and /usr/lib, and /lib64 for the loader.
MULTIARCH=$(cd /usr/lib && ls -d ./*-linux-gnu* | sed 's|^\./||')
for m in $MULTIARCH; do mkdir -p "$R/usr/lib/$m" "$R/lib/$m"; done
if [ -d /usr/lib64 ] && [ ! -e "$R/lib64" ]; then mkdir -p "$R/usr/lib64"; ln -s usr/lib64 "$R/lib64"; fi
mkdir -p "$R/proc" "$R/dev" "$R/tmp"
cat >"$WORK/inside.sh" <<INSIDE
set -eu
ip link set lo up
sysctl -q -w net.ipv4.ip_unprivileged_port_start=0   # this namespace only
for m in $MULTIARCH; do
    mount --bind -o ro "/usr/lib/\$m" "$R/usr/lib/\$m"
    mount --bind -o ro "/usr/lib/\$m" "$R/lib/\$m"
done
if [ -d /usr/lib64 ]; then mount --bind -o ro /usr/lib64 "$R/usr/lib64"; fi
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
chroot --userspec=$uid:$gid "$R" $EXEC >"$WORK/serve.out" 2>"$WORK/serve.log" &
PID=\$!
trap 'kill -TERM \$PID 2>/dev/null || true' EXIT   # never leave it running
for _ in \$(seq 1 300); do
    grep -q '^lmtp ' "$WORK/serve.out" 2>/dev/null && break
    kill -0 \$PID 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.1
done
cat "$WORK/serve.out"
python3 - <<'PY'
import imaplib, poplib, smtplib
i = imaplib.IMAP4("127.0.0.1", 143); assert i.welcome.startswith(b"* OK"), i.welcome; i.logout()
p = poplib.POP3("127.0.0.1", 110); assert p.getwelcome().startswith(b"+OK"); p.quit()
l = smtplib.LMTP("127.0.0.1", 24); code, _ = l.noop(); assert code == 250; l.quit()
print("PASS the server answers IMAP on 143, POP3 on 110, LMTP on 24")
PY
kill -TERM \$PID
wait \$PID
INSIDE
unshare --mount --net sh "$WORK/inside.sh"
grep -q '^imap 0.0.0.0:143$' "$WORK/serve.out" || fail "listeners: $(cat "$WORK/serve.out")"
[ "$(stat -c '%u' "$R/var/lib/mailroom/directory.db")" = "$uid" ] || fail "directory.db not mailroom's"
[ -f "$R/var/lib/mailroom/tls/cert.pem" ] || fail "no generated certificate"
grep -q 'stopped' "$WORK/serve.log" || fail "no graceful stop: $(cat "$WORK/serve.log")"
echo "PASS package: installed into a throwaway root and started from the unit's ExecStart as mailroom"
