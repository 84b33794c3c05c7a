#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kura-initiatord when a LU's paths go away for good and when a portal comes
# back (issue 12): one kura-targetd with two portals (so one LU has two
# paths), kura-initiatord with FUSE and NBD front ends, logins through
# kura-iscsiadm.
#  - logging out of the LU's last path removes its FUSE file, its NBD socket
#    and their alias names at once, and I/O on a FUSE file opened before
#    fails with EIO at once (not after the --no-path-retry bound, 30 s here);
#  - logging in again brings them back under the same names, with the data;
#  - when the target goes away long enough for the reconnect backoff to grow
#    to several seconds and then returns, the paths are back within a second
#    or so of the portal accepting connections (sign-of-life probe), not at
#    the end of the backoff.
# Skips (77) without kura-initiatord, FUSE or python3.
source "$(dirname "$0")/lib.sh"
it_init initiator-lastpath
ADM=$KURA_BUILD/initiator/kura-iscsiadm
INID=$KURA_BUILD/initiator/kura-initiatord
[ -x "$INID" ] || skip "kura-initiatord not built ($INID)"
[ -e /dev/fuse ] || skip "no /dev/fuse"
need_cmd python3 qemu-io

P1=$(free_port); P2=$(free_port)
T=iqn.2026-11.org.kura:lastpath
cat >"$IT_DIR/kura.conf" <<CONF
[portal one]
address = 127.0.0.1:$P1
tpgt = 1
[portal two]
address = 127.0.0.1:$P2
tpgt = 2
[target $T]
[lun 0]
backend = file
path = lp.img
size = 32M
create = yes
CONF
KURA_WAIT="127.0.0.1:$P1 127.0.0.1:$P2" kura_start -c "$IT_DIR/kura.conf"

export KURA_ISCSI_ROOT=$IT_DIR/iscsi KURA_INITIATORD_SOCK=$IT_DIR/ini.sock
FUSE=$IT_DIR/lu NBD=$IT_DIR/nbd
"$INID" --root "$KURA_ISCSI_ROOT" --ctl-sock "$KURA_INITIATORD_SOCK" --fuse-dir "$FUSE" \
  --nbd-dir "$NBD" --no-path-retry 30 --retry-max 30 --log-level info >"$IT_DIR/initiatord.log" 2>&1 &
INI_PID=$!
IT_PIDS+=("$INI_PID")
fini() { fusermount3 -u "$FUSE" 2>/dev/null || umount -l "$FUSE" 2>/dev/null; it_cleanup; }
trap fini EXIT
for _ in $(seq 1 100); do [ -S "$KURA_INITIATORD_SOCK" ] && break; sleep 0.1; done
[ -S "$KURA_INITIATORD_SOCK" ] || die "kura-initiatord did not create its socket"

"$ADM" -m discovery -t st -p 127.0.0.1:$P1 >/dev/null || die "discovery failed"
"$ADM" -m node -T $T --login >"$IT_DIR/login.out" 2>&1 || die "login failed: $(cat "$IT_DIR/login.out")"
wait_file() { for _ in $(seq 1 100); do ls "$FUSE"/naa.* >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
check "LU presented: FUSE file" wait_file
LUF=$(ls -d "$FUSE"/naa.* | head -1); W=$(basename "$LUF")
check "LU presented: NBD socket and alias" bash -c "test -S '$NBD/$W.sock' && test -L '$NBD/$T-lun0.sock' && test -L '$FUSE/$T-lun0'"
check "write a pattern through NBD" qemu-io -f raw -c "write -P 0x6b 0 1M" "nbd+unix:///?socket=$NBD/$W.sock"

# A reader holding the FUSE file open across the logout of both paths.
python3 - "$LUF" "$IT_DIR/go" >"$IT_DIR/reader.out" 2>&1 <<'PY' &
import os, sys, time, errno
fd = os.open(sys.argv[1], os.O_RDONLY)
assert os.pread(fd, 4096, 0)[:1] == b'\x6b'
open(sys.argv[2] + ".ready", "w").close()
while not os.path.exists(sys.argv[2]):
    time.sleep(0.02)
t0 = time.time()
try:
    os.pread(fd, 4096, 0)
    print("read ok")
except OSError as e:
    print("errno", errno.errorcode.get(e.errno), "after %.1f s" % (time.time() - t0))
PY
RPID=$!
for _ in $(seq 1 100); do [ -e "$IT_DIR/go.ready" ] && break; sleep 0.05; done
"$ADM" -m node -T $T -p 127.0.0.1:$P1 --logout >/dev/null
check "one path left: the LU stays" test -e "$LUF"
"$ADM" -m node -T $T -p 127.0.0.1:$P2 --logout >/dev/null
touch "$IT_DIR/go"
timeout 10 tail --pid=$RPID -f /dev/null
check "I/O after the last path logged out fails with EIO at once (not after 30 s)" grep -q "errno EIO" "$IT_DIR/reader.out"
log "reader: $(cat "$IT_DIR/reader.out")"
check "FUSE file and alias gone" bash -c "! ls '$FUSE' | grep -q ."
check "NBD socket and alias gone" bash -c "! ls '$NBD' | grep -q ."

"$ADM" -m node -T $T --login >/dev/null 2>&1
check "login again: the same FUSE name comes back" wait_file
check "same names: $W (file, NBD socket, aliases)" \
  bash -c "test -e '$FUSE/$W' && test -S '$NBD/$W.sock' && test -L '$FUSE/$T-lun0' && test -L '$NBD/$T-lun0.sock'"
check "the data is there" qemu-io -f raw -c "read -P 0x6b 0 1M" "nbd+unix:///?socket=$NBD/$W.sock"

# The target goes away; the backoff grows (0.5, 1, 2, 4, 8 s ...); it returns.
paths_up() { "$ADM" -m session -P 1 2>/dev/null | grep -c 'iSCSI Connection State: LOGGED IN'; }
kura_kill9() { kill -9 "$KURA_PID"; wait "$KURA_PID" 2>/dev/null; KURA_PID=""; }
kura_kill9
sleep 9 # attempts at about 0.5, 1.5, 3.5, 7.5 s; the next one would be near 15.5 s
KURA_WAIT="127.0.0.1:$P1 127.0.0.1:$P2" kura_restart
t0=$(date +%s%3N)
for _ in $(seq 1 200); do [ "$(paths_up)" = 2 ] && break; sleep 0.05; done
dt=$(( $(date +%s%3N) - t0 ))
log "both paths up ${dt} ms after the target listened again (backoff alone: about 6 s more)"
check "returning portal used at once (both paths up in ${dt} ms, well before the backoff's next try)" \
  [ "$(paths_up)" = 2 -a "$dt" -lt 4000 ]
check "the data is still readable" qemu-io -f raw -c "read -P 0x6b 0 1M" "nbd+unix:///?socket=$NBD/$W.sock"
check "kura-initiatord alive" kill -0 "$INI_PID"
it_finish
