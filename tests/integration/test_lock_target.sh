#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cluster lock library (cluster-lock/) against the real kura-targetd, through
# kura-it-client_lock (client_lock.c): an HA LUN (4096-byte blocks) and a VM-disk
# LUN (512-byte blocks) on one target.
#  1. lock_scsi: COMPARE AND WRITE success and miscompare; name-wide registration
#     (SPEC_I_PT, TransportID 00h) confirmed by READ FULL STATUS and valid for a
#     new session; PREEMPT AND ABORT; READ KEYS; UA 2A/05 consumed (I9);
#     the preempted host gets RESERVATION CONFLICT.
#     Two portals (two target ports): a registration made through one covers
#     a new session through the other; a preempt removes both (I10).
#  2. HA LUN: format (foreign header refused), dump, join, a live host's id
#     refused, leases (migration window, third host's steal fails), a fence,
#     the HA take-over only after it, rejoin with a new incarnation (I4).
#  3. Two hosts fence each other at the same instant: exactly one wins, every
#     round (fewer rounds under sanitizers, said in the output).
#  4. Paths and deadlines: a first path to a portal that never answers is
#     abandoned at its deadline and the second one serves; reads while the
#     target is frozen (SIGSTOP) fail within their deadline and work again
#     after SIGCONT (the session is rebuilt).
#     A forwarder swallows the completion of a lease COMPARE AND WRITE: the
#     library re-reads through the direct path and reports success, lver + 1
#     once, no double grant (I8 against the target).
#  5. kill -9 and restart of kura-targetd: a client's next read rebuilds its
#     session and succeeds (the new session's unit attention consumed, I9);
#     the registrations are those from before (APTPL, I11 at library level).
source "$(dirname "$0")/lib.sh"
it_init lock_target
CLIENT=$(need_client lock)
IQN=iqn.2026-12.org.kura:lock

cat >"$IT_DIR/kura.conf" <<CONF
[global]
data_dir = $IT_DIR/data
[target $IQN]
[lun 0]
backend = file
path = ha.img
size = 64M
create = yes
block_size = 4096
[lun 1]
backend = file
path = vm.img
size = 16M
create = yes
block_size = 512
CONF

P=$(free_port)
P2=$(free_port)
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P --listen 127.0.0.1:$P2
HA=$(kura_url 127.0.0.1:$P 0 $IQN)
VM=$(kura_url 127.0.0.1:$P 1 $IQN)
VM2=$(kura_url 127.0.0.1:$P2 1 $IQN)

check "lock_scsi against the target" bash -c "'$CLIENT' scsi '$VM' >'$IT_DIR/scsi.out' 2>&1"
cat "$IT_DIR/scsi.out"
check "two portals: one registration covers both, one preempt removes both (I10)" \
  bash -c "'$CLIENT' ports '$VM' '$VM2' >'$IT_DIR/ports.out' 2>&1"
cat "$IT_DIR/ports.out"
check "HA LUN: format, join, leases, fence, take-over" \
  bash -c "'$CLIENT' ha '$HA' '$VM' >'$IT_DIR/ha.out' 2>&1"
grep -v '^{' "$IT_DIR/ha.out"

ROUNDS=10
if nm "$CLIENT" 2>/dev/null | grep -q __asan_init; then
  ROUNDS=3; log "sanitizer build: 3 race rounds instead of 10"
fi
check "mutual fence: exactly one wins ($ROUNDS rounds)" \
  bash -c "'$CLIENT' race '$HA' '$VM' $ROUNDS >'$IT_DIR/race.out' 2>&1"
grep -v 'info:\|warn:' "$IT_DIR/race.out"

wait_line() {  # wait_line FILE TEXT: until FILE has a line TEXT (10 s)
  local i
  for i in $(seq 1 100); do grep -qx "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

BH=$(free_port)
python3 -c $'import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(("127.0.0.1",'"$BH"$'))\ns.listen(16)\nc=[]\nwhile True:\n  c.append(s.accept()[0])' &
IT_PIDS+=($!)
wait_port 127.0.0.1 "$BH" 10 || die "black-hole portal did not listen"
check "a dead first path is abandoned at its deadline" \
  bash -c "'$CLIENT' paths '$(kura_url 127.0.0.1:$BH 1 $IQN)' '$VM' >'$IT_DIR/paths.out' 2>&1"
cat "$IT_DIR/paths.out"

"$CLIENT" stall "$VM" 5 >"$IT_DIR/stall.out" 2>&1 &
cpid=$!; IT_PIDS+=($cpid)
wait_line "$IT_DIR/stall.out" ready || die "stall client did not start"
sleep 1; kill -STOP "$KURA_PID"; sleep 2; kill -CONT "$KURA_PID"
check "reads during a frozen target end at their deadline; they work again after" wait $cpid
grep -v '^ready' "$IT_DIR/stall.out"

# A forwarder that, once $IT_DIR/mute exists, swallows every response after the
# next COMPARE AND WRITE command it sees going to the target (a SCSI Command
# PDU, opcode 01h, whose CDB starts with 89h): that CAW executes, its
# completion is lost. Plain reads before it pass.
FP=$(free_port)
python3 - "$FP" "$P" "$IT_DIR/mute" >"$IT_DIR/fwd.log" 2>&1 <<'PY' &
import os, socket, sys, threading
lport, port, mute = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
muted = threading.Event()
def pump(src, dst, to_target):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            if to_target and os.path.exists(mute) and len(b) >= 48 and \
               (b[0] & 0x3f) == 0x01 and b[32] == 0x89 and not muted.is_set():
                print("CAW seen: muting the responses", flush=True)
                muted.set()
            if to_target or not muted.is_set():
                dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport))
ls.listen(16)
while True:
    c, _ = ls.accept()
    u = socket.create_connection(("127.0.0.1", port))
    threading.Thread(target=pump, args=(c, u, True), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, False), daemon=True).start()
PY
IT_PIDS+=($!)
wait_port 127.0.0.1 "$FP" 10 || die "forwarder did not listen"
mkfifo "$IT_DIR/go-lost"
"$CLIENT" lost "$(kura_url 127.0.0.1:$FP 0 $IQN)" "$HA" <"$IT_DIR/go-lost" >"$IT_DIR/lost.out" 2>&1 &
cpid=$!; IT_PIDS+=($cpid)
exec 6>"$IT_DIR/go-lost"
wait_line "$IT_DIR/lost.out" ready || die "lost client did not start"
touch "$IT_DIR/mute"; echo go >&6; exec 6>&-
check "a lost CAW completion is resolved by a re-read: success, no double grant (I8)" wait $cpid
check "the forwarder did swallow a CAW's completion" grep -q "CAW seen" "$IT_DIR/fwd.log"
rm -f "$IT_DIR/mute"
grep -v 'info:\|warn:\|^ready\|^formatted' "$IT_DIR/lost.out"

mkfifo "$IT_DIR/go"
"$CLIENT" restart "$VM" <"$IT_DIR/go" >"$IT_DIR/restart.out" 2>&1 &
cpid=$!; IT_PIDS+=($cpid)
exec 5>"$IT_DIR/go"
wait_line "$IT_DIR/restart.out" ready || die "restart client did not start"
keys_before=$("$CLIENT" keys "$VM" 2>/dev/null)
kura_kill9
kura_restart
echo go >&5; exec 5>&-
check "a read after kill -9 + restart of the target succeeds" wait $cpid
grep -v '^ready' "$IT_DIR/restart.out"
keys_after=$("$CLIENT" keys "$VM" 2>/dev/null)
log "VM LUN keys before kill -9: $keys_before; after restart: $keys_after"
check "registrations after kill -9 + restart equal those before (APTPL)" \
  test -n "$keys_before" -a "$keys_before" = "$keys_after"
it_finish
