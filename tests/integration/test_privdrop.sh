#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `user =` (issue 11 item 3): kura-targetd started as root drops to a system
# user (kura-test, created here if missing), and everything it keeps in
# data_dir is that user's: the admin socket, <data_dir>/pr and the PR file
# PERSISTENT RESERVE OUT with APTPL writes (client_pr.c, libiscsi), the LUN
# and pool images created at start-up, a volume created at run time by
# kura-targetctl run as that user (runuser). A restart keeps the PR state
# and the volume. Skips (77) when not root or when the user cannot be made.
source "$(dirname "$0")/lib.sh"
it_init privdrop
[ "$(id -u)" = 0 ] || skip "needs root: kura-targetd must start as root to drop to user ="
need_cmd runuser stat
PRC=$(need_client pr)
CTL=$KURA_BUILD/tools/kura-targetctl
[ -x "$CTL" ] || skip "kura-targetctl not built"
U=kura-test
if ! getent passwd "$U" >/dev/null; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$U" \
    2>/dev/null || getent passwd "$U" >/dev/null || skip "cannot create the system user $U"
fi
runuser -u "$U" -- test -x "$CTL" || skip "$CTL is not reachable by $U (build tree permissions)"

chmod 755 "$IT_DIR"                 # mktemp made it 0700: the user must traverse it
mkdir "$IT_DIR/etc"
chown "$U:" "$IT_DIR/etc"           # kura-targetctl rewrites the file next to itself
P=$(free_port)
H=127.0.0.1:$P
T=iqn.2026-11.org.kura:privdrop
D=$IT_DIR/data
CONF=$IT_DIR/etc/kura.conf
cat >"$CONF" <<CONF
[global]
user = $U
[portal main]
address = $H
[pool p]
data = p.data
size = 16M
meta = p.meta
[target $T]
[lun 0]
backend = file
path = lun0.img
size = 16M
create = yes
CONF
chown "$U:" "$CONF"
KURA_WAIT=$H kura_start -c "$CONF"
SOCK=$D/kura-targetd.sock
URL=$(kura_url "$H" 0 "$T")

uid_of_pid() { awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$1/status"; }
UID_U=$(id -u "$U")
check "the daemon runs as $U (real, effective, saved, fs uid)" \
  test "$(uid_of_pid "$KURA_PID")" = "$UID_U $UID_U $UID_U $UID_U"
owned() { local f; for f in "$@"; do [ "$(stat -c %U "$f")" = "$U" ] || { log "$f: $(stat -c %U "$f")"; return 1; }; done; }
check "data_dir, pr/, the socket and the start-up images are $U's" \
  owned "$D" "$D/pr" "$SOCK" "$D/lun0.img" "$D/p.data" "$D/p.meta"

# PERSISTENT RESERVE OUT with APTPL: a registers and holds, b registers
check "PR OUT with APTPL (client_pr hold)" "$PRC" hold "$URL"
STATE=$("$PRC" status "$URL")
log "PR state: $STATE"
check "the reservation is held" grep -q "pr-a=a4\*" <<<"$STATE"
pr_files_owned() { local n; n=$(find "$D/pr" -type f | wc -l); [ "$n" -ge 1 ] && owned $(find "$D/pr" -type f); }
check "the APTPL file in data_dir/pr is $U's" pr_files_owned

# kura-targetctl as the daemon's user (SO_PEERCRED: root or the daemon's uid)
uctl() { runuser -u "$U" -- "$CTL" -s "$SOCK" "$@"; }
check "kura-targetctl list luns as $U" uctl list luns
check "kura-targetctl volume create as $U" uctl volume create p 1 --size 4M
check "kura-targetctl lun add (thin volume) as $U" uctl lun add "$T" 1 --backend thin --pool p --volume 1
check "the configuration was rewritten by $U" grep -q "volume = 1" "$CONF"
check "kura-targetctl as root still works" "$CTL" -s "$SOCK" list sessions
check "nobody is still refused" bash -c "! runuser -u nobody -- '$CTL' -s '$SOCK' list luns 2>/dev/null"
check "no permission errors logged" bash -c "! grep -iE 'permission denied|EACCES|04/44' '$IT_DIR/kura.log'"

check "stop" kura_stop
check "the socket is gone (the user could remove it)" test ! -e "$SOCK"
KURA_WAIT=$H kura_start -c "$CONF"
check "restart: the PR state came back from the APTPL file" test "$("$PRC" status "$URL")" = "$STATE"
check "restart: LUN 1 (the volume) is served" bash -c "'$CTL' -s '$SOCK' list luns | grep -q '^$T 1 '"
check "restart: kura-targetctl as $U" uctl list luns
check "restart: PR OUT again after the restart" "$PRC" hold "$URL"
check "stop after restart" kura_stop
it_finish
