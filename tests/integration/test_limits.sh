#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Memory and connection limits (issue 11 item 2, docs/security.md).
# 1. 50 hostile sessions (raw PDUs) each pipeline three 16 MiB WRITEs with
#    256 KiB of immediate data and unsolicited Data-Out up to 4 KiB short of
#    FirstBurstLength, never finishing a burst, while a legitimate qemu-io
#    loop (other initiator name) writes and verifies 1 MiB per round: every
#    round must pass, and the daemon's RSS must stay under its RSS before the
#    attack + buffer_budget + a fixed margin (the kbuf idle caches of the two
#    workers, 2 x 64 MiB, and 0.5 MiB per connection). Figures are printed.
# 2. max_connections: with 60 connections open (max_connections) (not logged in), the 21st's
#    login is refused 03/02 (out of resources) and logged.
# 3. login_timeout_ms: those 60 connections are closed by the target.
# 4. max_connections_per_initiator: a 5th session of one initiator gets 02/06
#    (too many connections) and a log line; reinstating one of its 4 sessions
#    (same ISID) still works.
source "$(dirname "$0")/lib.sh"
it_init limits
need_cmd qemu-io python3
P=$(free_port)
BUDGET_MIB=256
cat >"$IT_DIR/kura.conf" <<CONF
[global]
workers = 2
buffer_budget = ${BUDGET_MIB}M
max_connections = 60
max_connections_per_initiator = 4
login_timeout_ms = 4000
nop_interval_ms = 60000
queue_depth = 64

[portal main]
address = 127.0.0.1:$P

[target $KURA_IQN]

[lun 0]
backend = file
path = lun0.img
size = 2G
create = yes
thin = yes
CONF
kura_start -c "$IT_DIR/kura.conf" --listen "127.0.0.1:$P"
LEGIT=$(kura_json "127.0.0.1:$P" 0 "$KURA_IQN" iqn.2026-11.org.kura:it-legit)
check "legitimate client before the attack" qio "$LEGIT" "write -P 0x11 0 1M" "read -P 0x11 0 1M"
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$KURA_PID/status"; }
RSS0=$(rss_kib)

# ---- 1. hostile sessions ----
py_iscsi 127.0.0.1 "$P" "
import threading
EDTL = 16 << 20
FB = 16776192
seg = b'\xa5' * 262144
ok = [0]
def hostile(i):
    c = Conn()
    c.s.settimeout(20)
    st = login(c, 'iqn.2026-11.org.kura:hostile-%d' % i, '$KURA_IQN',
               op_keys=[('InitialR2T', 'No'), ('ImmediateData', 'Yes'), ('FirstBurstLength', FB),
                        ('MaxBurstLength', FB), ('MaxRecvDataSegmentLength', 262144)],
               isid=bytes([0x80, 0, 0, 0, 1, i]))
    if st[0] != 0:
        print('hostile %d: login %d/%d' % (i, st[0], st[1])); return
    ok[0] += 1
    try:
        for k in range(3):
            itt = c.itt
            lba = (i * 3 + k) * (EDTL // 512) % (4194304 - 32768)
            cdb = bytes([0x2a, 0]) + struct.pack('>I', lba) + b'\0' + struct.pack('>H', EDTL // 512) + b'\0' * 7
            h = bytearray(bhs(0x01, 0x21, len(seg), itt=itt))
            h[20:24] = struct.pack('>I', EDTL); h[24:28] = struct.pack('>I', c.cmdsn)
            h[28:32] = struct.pack('>I', c.statsn); h[32:48] = cdb
            c.cmdsn += 1; c.itt += 1
            c.s.sendall(bytes(h) + seg)
            off, sn = len(seg), 0
            while off < FB - 4096:
                n = min(len(seg), FB - 4096 - off)
                d = bytearray(bhs(0x05, 0, n, itt=itt))
                d[20:24] = b'\xff' * 4; d[28:32] = struct.pack('>I', c.statsn)
                d[36:40] = struct.pack('>I', sn); d[40:44] = struct.pack('>I', off)
                c.s.sendall(bytes(d) + seg[:n])
                off += n; sn += 1
    except (socket.timeout, OSError):
        pass                               # the target stopped reading us: fine
    wait_file('$IT_DIR/legit-done', 400)
    c.s.close()
ts = [threading.Thread(target=hostile, args=(i,)) for i in range(50)]
for t in ts: t.start()
time.sleep(1)
open('$IT_DIR/hostile-in', 'w').write(str(ok[0]))
for t in ts: t.join()
print('hostile sessions logged in:', ok[0])
" >"$IT_DIR/hostile.log" 2>&1 &
HPID=$!; IT_PIDS+=($HPID)
for _ in $(seq 1 300); do [ -f "$IT_DIR/hostile-in" ] && break; sleep 0.1; done
( peak=0; while kill -0 "$HPID" 2>/dev/null; do r=$(rss_kib); [ "${r:-0}" -gt "$peak" ] && peak=$r && echo "$peak" >"$IT_DIR/rss-peak"; sleep 0.2; done ) &
IT_PIDS+=($!)
ROUNDS_OK=0
for r in $(seq 1 8); do
  pat=$(printf '0x%02x' $((0x20 + r)))
  if qio "$LEGIT" "write -P $pat $((r * 1048576)) 1M" "read -P $pat $((r * 1048576)) 1M"; then
    ROUNDS_OK=$((ROUNDS_OK + 1))
  fi
done
SESS=$("$KURA_BUILD/tools/kura-targetctl" -s "$IT_DIR/data/kura-targetd.sock" list sessions | grep -c hostile)
touch "$IT_DIR/legit-done"
wait "$HPID"
RSS1=$(cat "$IT_DIR/rss-peak" 2>/dev/null || echo 0)
cat "$IT_DIR/hostile.log"
MARGIN_KIB=$(( (2 * 64 + 60 / 2) * 1024 ))
log "RSS before the attack $((RSS0 / 1024)) MiB, peak during it $((RSS1 / 1024)) MiB;" \
    "bound: before + budget $BUDGET_MIB MiB + margin $((MARGIN_KIB / 1024)) MiB = $(( (RSS0 + BUDGET_MIB * 1024 + MARGIN_KIB) / 1024 )) MiB;" \
    "hostile sessions alive at the end: $SESS"
check "50 hostile sessions logged in" grep -q "hostile sessions logged in: 50" "$IT_DIR/hostile.log"
check "hostile sessions still connected while qemu-io ran ($SESS)" test "$SESS" -ge 45
check "legitimate qemu-io: 8 of 8 rounds written and verified ($ROUNDS_OK)" test "$ROUNDS_OK" = 8
check "peak RSS within before + budget + margin" test "$RSS1" -le $((RSS0 + BUDGET_MIB * 1024 + MARGIN_KIB))
check "budget warning logged" grep -q "command buffers at their limit" "$IT_DIR/kura.log"
check "data of the rounds still there" qio "$LEGIT" "read -P 0x28 $((8 * 1048576)) 1M" "read -P 0x11 0 1M"

# ---- 2-4. connection caps and the login timeout ----
for _ in $(seq 1 300); do
  n=$("$KURA_BUILD/tools/kura-targetctl" -s "$IT_DIR/data/kura-targetd.sock" list sessions | grep -c hostile)
  [ "$n" = 0 ] && break; sleep 0.1
done
py_iscsi 127.0.0.1 "$P" "
idle = [connect() for _ in range(60)]
time.sleep(0.5)
extra = Conn()
st = login(extra, 'iqn.2026-11.org.kura:it-extra', '$KURA_IQN')
print('over max_connections: %d/%d' % (st[0], st[1]))
extra.s.close()
t0 = time.monotonic(); closed = 0
for s in idle:
    s.settimeout(10)
    try:
        closed += s.recv(1) == b''
    except OSError:
        closed += 1
print('idle closed by the target: %d of 60 within %.1f s' % (closed, time.monotonic() - t0))
time.sleep(0.5)
cs = [Conn() for _ in range(5)]
res = [login(c, 'iqn.2026-11.org.kura:it-same', '$KURA_IQN', isid=bytes([0x80, 0, 0, 0, 2, i]))[:2] for i, c in enumerate(cs)]
print('per-initiator: ' + ' '.join('%d/%d' % r for r in res))
again = Conn()
st = login(again, 'iqn.2026-11.org.kura:it-same', '$KURA_IQN', isid=bytes([0x80, 0, 0, 0, 2, 0]))
print('reinstatement at the cap: %d/%d' % st[:2])
" >"$IT_DIR/caps.log" 2>&1
cat "$IT_DIR/caps.log"
check "login over max_connections: 03/02" grep -q "over max_connections: 3/2" "$IT_DIR/caps.log"
check "... logged" grep -q "login refused: more than max_connections" "$IT_DIR/kura.log"
check "login_timeout_ms closed the 60 idle connections" grep -q "idle closed by the target: 60 of 60" "$IT_DIR/caps.log"
check "... logged" grep -q "login not finished within login_timeout_ms" "$IT_DIR/kura.log"
check "per-initiator cap: 4 sessions, the 5th 02/06" grep -q "per-initiator: 0/0 0/0 0/0 0/0 2/6" "$IT_DIR/caps.log"
check "... logged" grep -q "max_connections_per_initiator" "$IT_DIR/kura.log"
check "reinstatement at the cap works" grep -q "reinstatement at the cap: 0/0" "$IT_DIR/caps.log"
check "legitimate client after it all" qio "$LEGIT" "read -P 0x11 0 1M"
check "stops cleanly (exit 0)" kura_stop
it_finish
