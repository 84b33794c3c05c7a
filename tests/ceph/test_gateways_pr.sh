#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Reservations and COMPARE AND WRITE across two kura-targetd gateways
# (gateway_id 1 and 2) serving the same RBD images (docs/ceph.md
# "Reservations across gateways", "COMPARE AND WRITE"), on one throw-away
# Ceph cluster shared by every scenario (each prints its duration):
#   ids     VPD 0x83's logical-unit designators identical from both gateways
#   pr      X on gateway 1, Y on gateway 2: a reservation made through one
#           gateway conflicts on the other; 2A/04 (reservations released),
#           2A/05 (registrations preempted, after PREEMPT AND ABORT) and
#           2A/03 (reservations preempted, after CLEAR) reach the nexus on the
#           other gateway at its next command, then RESERVATION CONFLICT
#   storm   kura-it-client_pr storm with initiator A on gateway 1 and B on
#           gateway 2 (a random valid PROUT sequence, each checked against a
#           model by READ FULL STATUS); iscsi-test-cu's PR suites cannot put
#           their second nexus on another portal (its second URL serves only
#           the MultipathIO family), so they run once per gateway with the
#           other gateway watching the same record
#   caw     COMPARE AND WRITE raced from both gateways on one block, exactly
#           one success per round, KURA_CAW_ROUNDS (10000) rounds on a
#           512-byte LU (librbd's own compare-and-write) and on a 4096-byte
#           LU (compare-extent + write on the data object), 8 blocks at a
#           time; then iscsi-test-cu MultipathIO.CompareAndWrite* with one
#           URL per gateway on the 4096-byte LU
#   stop    SIGSTOP gateway 2 holding a reservation; a PREEMPT through
#           gateway 1 completes (gateway 2 does not ack: blocklisted); after
#           SIGCONT gateway 2's I/O fails rather than serve the old state
#   aptpl   APTPL registrations and reservation survive a restart of both
#           gateways
# Scenario list: KURA_GW_SCENARIOS="ids pr ..." (default: all, in this order).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../integration/lib.sh"
source "$here/ceph_lib.sh"
ceph_need
it_init ceph_gateways_pr
grep -q '^KURA_HAVE_RBD:INTERNAL=ON' "$KURA_BUILD/CMakeCache.txt" 2>/dev/null ||
  skip "kura built without the rbd backend (librbd-dev, librados-dev)"
CAW=$KURA_BUILD/tests/ceph/kura-ceph-client_caw_race
[ -x "$CAW" ] || skip "$CAW not built"
PRC=$(need_client pr)
ROUNDS=${KURA_CAW_ROUNDS:-10000}
SCENARIOS=${KURA_GW_SCENARIOS:-ids pr storm caw stop aptpl}
IQN=iqn.2026-12.org.kura:gw

ceph_start
ceph_pool_create rbd
ceph_image_create rbd disk512 64M layering # no exclusive-lock: both gateways write
ceph_image_create rbd disk4k 64M layering

A1=127.0.0.1; A2=127.0.0.2
P1=$(free_port $A1); P2=$(free_port $A2)
gw_conf() { # gw_conf ID ADDR:PORT
  printf '[global]\ngateway_id = %s\ngateways = 2\ndata_dir = %s\nlog_level = info\n' "$1" "$IT_DIR/data$1"
  printf '[portal a]\naddress = %s\n[target %s]\n' "$2" "$IQN"
  local lun img bs
  for lun in 0 1; do
    img=disk512; bs=512
    [ $lun = 1 ] && { img=disk4k; bs=4096; }
    printf '[lun %s]\nbackend = rbd\nrbd_pool = rbd\nrbd_image = %s\nrbd_conf = %s\nrbd_user = %s\nrbd_keyring = %s\nblock_size = %s\n' \
      $lun $img "$CEPH_CONF" "$CEPH_USER" "$CEPH_KEYRING" $bs
  done
}
mkdir -p "$IT_DIR/data1" "$IT_DIR/data2"
gw_conf 1 "$A1:$P1" >"$IT_DIR/gw1.conf"
gw_conf 2 "$A2:$P2" >"$IT_DIR/gw2.conf"
GW1=""; GW2=""
gw_start() { # gw_start N: gateway N in the background, logging to gwN.log
  local a=$A1 p=$P1
  [ "$1" = 2 ] && { a=$A2; p=$P2; }
  echo "==== start $(date +%T)" >>"$IT_DIR/gw$1.log"
  "$KURA_TARGETD" --foreground -c "$IT_DIR/gw$1.conf" >>"$IT_DIR/gw$1.log" 2>&1 &
  local pid=$!
  IT_PIDS+=($pid)
  eval "GW$1=$pid"
  wait_port $a $p 60 || { tail -20 "$IT_DIR/gw$1.log"; die "gateway $1 did not listen"; }
}
gw_stop() { # gw_stop N: SIGTERM, then wait
  local pid; eval "pid=\$GW$1"
  [ -n "$pid" ] || return 0
  kill -CONT "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  eval "GW$1="
}
it_dump_extra() {
  local n
  for n in 1 2; do echo "---- last 25 lines of gateway $n ----"; tail -n 25 "$IT_DIR/gw$n.log"; done
}
gw_start 1
gw_start 2
URL1=iscsi://$A1:$P1/$IQN
URL2=iscsi://$A2:$P2/$IQN
T0=0
begin() { T0=$(date +%s.%N); log "---- scenario $1"; }
took() { log "---- scenario $1: $(echo "$(date +%s.%N) - $T0" | bc | cut -c1-5) s"; }

# Python helpers for the raw-PDU scenarios: prout(), w() and HOST/PORT switching.
PYDEFS="
def at(n):
    global HOST, PORT
    HOST, PORT = ('$A1', $P1) if n == 1 else ('$A2', $P2)
def nexus(n, name):
    at(n); c = Conn()
    st, _, _, _ = login(c, 'iqn.2026-12.org.kura:' + name, '$IQN')
    assert st == 0, 'login ' + name
    c.s.settimeout(60)                       # a PROUT may wait for a silent gateway
    scsi_cmd(c, bytes([0, 0, 0, 0, 0, 0]))   # TEST UNIT READY: eats the login UAs
    return c
def prout(c, sa, typ, rk, sark, aptpl=0):
    p = struct.pack('>QQ', rk, sark) + bytes(4) + bytes([aptpl, 0, 0, 0])
    st, _, s = scsi_cmd(c, bytes([0x5F, sa, typ, 0, 0, 0, 0, 0, 24, 0]), write_data=p)
    return '%02x' % st
def res(st, s):
    if st == 2 and s:
        k, asc, ascq = sense_kcq(s)
        return '02/%x/%02x%02x' % (k, asc, ascq)
    return '%02x' % st
def w(c, lun=0):
    st, _, s = scsi_cmd(c, bytes([0x2A, 0, 0, 0, 0, 8, 0, 0, 1, 0]), lun=lun, write_data=bytes(512 if lun == 0 else 4096), ua_retry=0)
    return res(st, s)
def r(c, lun=0):
    st, _, s = scsi_cmd(c, bytes([0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0]), lun=lun, read_len=512 if lun == 0 else 4096, ua_retry=0)
    return res(st, s)
def rres(c):
    st, d, s = scsi_cmd(c, bytes([0x5E, 1, 0, 0, 0, 0, 0, 1, 0, 0]), read_len=256)
    if st != 0 or len(d) < 8: return 'err'
    if struct.unpack('>I', d[4:8])[0] == 0: return 'none'
    return '%x/%d' % (struct.unpack('>Q', d[8:16])[0], d[21] & 15)
"

scenario_ids() {
  begin ids
  local code="
c = Conn()
st, _, _, _ = login(c, 'iqn.2026-12.org.kura:probe', '$IQN')
assert st == 0
out = []
for lun in (0, 1):
    st, v, _ = scsi_cmd(c, bytes([0x12, 1, 0x83, 0, 255, 0]), lun=lun, read_len=255)
    lu, i = b'', 4
    while i + 4 <= len(v):
        n = 4 + v[i + 3]
        if (v[i + 1] >> 4) & 3 == 0: lu += v[i:i + n]
        i += n
    out.append(lu.hex())
print(' '.join(out))
"
  local a b
  a=$(py_iscsi $A1 $P1 "$code") || die "probe gateway 1: $a"
  b=$(py_iscsi $A2 $P2 "$code") || die "probe gateway 2: $b"
  log "gateway 1: $a"
  log "gateway 2: $b"
  check "VPD 0x83 LU designators identical from both gateways, different per image" \
    test -n "${a%% *}" -a "$a" = "$b" -a "${a%% *}" != "${a##* }"
  took ids
}

scenario_pr() {
  begin pr
  local out
  out=$(py_iscsi $A1 $P1 "$PYDEFS
x = nexus(1, 'pr-x'); y = nexus(2, 'pr-y')
o = []
o.append(prout(x, 0, 0, 0, 0xA))     # X registers through gateway 1
o.append(prout(y, 0, 0, 0, 0xB))     # Y registers through gateway 2
o.append(prout(x, 1, 1, 0xA, 0))     # X reserves Write Exclusive
o.append(w(y))                       # Y (gateway 2): conflict
o.append(prout(x, 2, 1, 0xA, 0))     # X releases (WE: no UA)
o.append(prout(x, 1, 5, 0xA, 0))     # X reserves WE registrants only
o.append(prout(x, 2, 5, 0xA, 0))     # X releases it: Y gets 2A/04
o.append(w(y)); o.append(w(y))
o.append(prout(x, 1, 1, 0xA, 0))     # X reserves WE again
o.append(prout(y, 5, 1, 0xB, 0xA))   # Y PREEMPT AND ABORT X (gateway 2)
o.append(w(x)); o.append(w(x))       # X (gateway 1): 2A/05, then conflict
o.append(w(y))                       # Y holds it now
o.append(prout(x, 0, 0, 0, 0xA))     # X registers again
o.append(prout(y, 3, 0, 0xB, 0))     # Y CLEAR: X gets 2A/03
o.append(w(x)); o.append(w(x))
print(' '.join(o))
") || die "PR across gateways: $out"
  log "PR across gateways: $out"
  local want="00 00 00 18 00 00 00 02/6/2a04 00 00 00 02/6/2a05 18 00 00 00 02/6/2a03 00"
  check "PR across gateways: conflicts and 2A/04, 2A/05, 2A/03 reach the other gateway's nexus" \
    test "$out" = "$want"
  took pr
}

scenario_storm() {
  begin storm
  local n=${KURA_GW_STORM:-300} seed=$((RANDOM + 1))
  timeout 300 "$PRC" storm "$URL1/0" $seed $n "$URL2/0" >"$IT_DIR/storm.out" 2>"$IT_DIR/storm.err"
  local rc=$?
  log "storm (seed $seed): rc=$rc, $(grep -c '^ACK' "$IT_DIR/storm.out") of $n acknowledged"
  check "PR storm, A on gateway 1 and B on gateway 2: every state matches the model" \
    test $rc = 0 -a "$(grep -c '^ACK' "$IT_DIR/storm.out")" -gt "$n"
  [ $rc = 0 ] || tail -5 "$IT_DIR/storm.err"
  # the storm leaves registrations and maybe a reservation: CLEAR them
  local clr
  clr=$(py_iscsi $A2 $P2 "$PYDEFS
c = nexus(2, 'storm-clear')
print(prout(c, 6, 0, 0, 0x99), prout(c, 3, 0, 0x99, 0))")
  check "CLEAR after the storm (through gateway 2)" test "$clr" = "00 00"
  if command -v iscsi-test-cu >/dev/null; then
    local g u f
    for g in 1 2; do
      u=$URL1; [ $g = 2 ] && u=$URL2
      timeout 300 iscsi-test-cu -d -s -t 'SCSI.Pr[io][nu]*' "$u/0" >"$IT_DIR/icu-pr$g.txt" 2>&1
      f=$(awk '/^ *tests / { print $5 }' "$IT_DIR/icu-pr$g.txt")
      log "iscsi-test-cu PR suites through gateway $g: $(awk '/^ *tests / { print $3 " run, " $4 " passed, " $5 " failed" }' "$IT_DIR/icu-pr$g.txt")"
      check "iscsi-test-cu Prin*/Prout* through gateway $g: 0 failed" test "${f:-x}" = 0
    done
  else
    log "iscsi-test-cu not installed: PR suites not run"
  fi
  took storm
}

scenario_caw() {
  begin caw
  local lun out rc t0 pids=()
  t0=$(date +%s)
  for lun in 0 1; do # both LUs at once (different images)
    timeout 600 "$CAW" "$URL1/$lun" "$URL2/$lun" "$ROUNDS" 16 8 >"$IT_DIR/caw$lun.out" 2>&1 &
    pids[$lun]=$!
  done
  for lun in 0 1; do
    wait ${pids[$lun]}
    rc=$?
    log "CAW race LUN $lun: $(tail -3 "$IT_DIR/caw$lun.out" | tr '\n' ' ')(both LUs: $(($(date +%s) - t0)) s)"
    check "CAW race on LUN $lun from both gateways: exactly one success in each of $ROUNDS rounds" test $rc = 0
  done
  if command -v iscsi-test-cu >/dev/null; then
    for lun in 1; do # LUN 0's route is librbd's own; LUN 1's is kura's (22 s each)
      timeout 300 iscsi-test-cu -d -s -t 'SCSI.MultipathIO.CompareAndWrite*' "$URL1/$lun" "$URL2/$lun" \
        >"$IT_DIR/icu-mp$lun.txt" 2>&1
      out=$(awk '/^ *tests / { print $3 " " $4 " " $5 }' "$IT_DIR/icu-mp$lun.txt")
      log "iscsi-test-cu MultipathIO.CompareAndWrite* LUN $lun (run passed failed): $out"
      check "MultipathIO.CompareAndWrite* across gateways on LUN $lun: all pass" \
        test -n "$out" -a "$(echo "$out" | cut -d' ' -f3)" = 0 -a "$(echo "$out" | cut -d' ' -f1)" != 0
    done
  fi
  took caw
}

scenario_stop() {
  begin stop
  rm -f "$IT_DIR/stopped" "$IT_DIR/cont"
  py_iscsi $A1 $P1 "$PYDEFS
z = nexus(2, 'stop-z'); x = nexus(1, 'stop-x')
o = [prout(z, 0, 0, 0, 0xC), prout(z, 1, 1, 0xC, 0), prout(x, 0, 0, 0, 0xD)]
open('$IT_DIR/setup', 'w').write(' '.join(o))
wait_file('$IT_DIR/stopped')                 # gateway 2 is stopped now
t = time.time()
o = [prout(x, 4, 1, 0xD, 0xC)]               # X PREEMPTs Z through gateway 1
o.append('%.1f' % (time.time() - t))
o.append(rres(x))
open('$IT_DIR/preempt', 'w').write(' '.join(o))
wait_file('$IT_DIR/cont')                    # gateway 2 runs again
try:
    o = [w(z), r(z)]
except Exception as e:
    o = ['conn:' + type(e).__name__]
print(' '.join(o))
" >"$IT_DIR/stop.out" 2>&1 &
  local py=$!
  IT_PIDS+=($py)
  for _ in $(seq 1 300); do [ -f "$IT_DIR/setup" ] && break; sleep 0.1; done
  log "set-up: $(cat "$IT_DIR/setup" 2>/dev/null)"
  kill -STOP "$GW2"
  touch "$IT_DIR/stopped"
  for _ in $(seq 1 600); do [ -f "$IT_DIR/preempt" ] && break; sleep 0.1; done
  local pre; pre=$(cat "$IT_DIR/preempt" 2>/dev/null)
  log "PREEMPT through gateway 1 with gateway 2 stopped: status, seconds, reservation: $pre"
  check "PREEMPT through gateway 1 completes while gateway 2 is stopped (X holds type 1)" \
    test "${pre%% *}" = 00 -a "${pre##* }" = d/1
  check "gateway 1 logged gateway 2's blocklisting" grep -q 'blocklisted for' "$IT_DIR/gw1.log"
  kill -CONT "$GW2"
  touch "$IT_DIR/cont"
  wait $py
  local z; z=$(tail -1 "$IT_DIR/stop.out")
  log "Z's WRITE and READ through gateway 2 after SIGCONT: $z"
  check "gateway 2 cut off: Z's WRITE and READ do not succeed" \
    bash -c "[ -n '$z' ] && ! echo '$z' | grep -qE '(^| )00( |$)'"
  took stop
}

scenario_aptpl() {
  begin aptpl
  local out
  out=$(py_iscsi $A1 $P1 "$PYDEFS
x = nexus(1, 'aptpl-x')
o = [prout(x, 6, 0, 0, 0xE0, 1)]         # REGISTER AND IGNORE EXISTING KEY
o.append(prout(x, 3, 0, 0xE0, 0))        # CLEAR whatever the other scenarios left
o.append(prout(x, 0, 0, 0, 0xE0, 1))     # REGISTER, APTPL
o.append(prout(x, 1, 3, 0xE0, 0))        # RESERVE Exclusive Access
print(' '.join(o))
") || die "aptpl set-up: $out"
  log "APTPL set-up through gateway 1: $out"
  check "APTPL registration and reservation through gateway 1" test "$out" = "00 00 00 00"
  gw_stop 1
  gw_stop 2
  gw_start 1
  gw_start 2
  local r1 r2
  r1=$(py_iscsi $A1 $P1 "$PYDEFS
print(rres(nexus(1, 'aptpl-probe')))")
  r2=$(py_iscsi $A2 $P2 "$PYDEFS
print(rres(nexus(2, 'aptpl-probe')))")
  log "after restarting both gateways: reservation via gateway 1 $r1, via gateway 2 $r2"
  check "APTPL reservation (key e0, type 3) survives a restart of both gateways" \
    test "$r1" = e0/3 -a "$r2" = e0/3
  took aptpl
}

for s in $SCENARIOS; do "scenario_$s"; done
gw_stop 1
gw_stop 2
ceph_stop
it_finish
