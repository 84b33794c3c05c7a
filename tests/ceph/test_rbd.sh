#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The rbd backend against one throw-away Ceph cluster (ceph_lib.sh), shared
# by several scenarios to save its start-up (each prints its duration):
#   io       qemu-io through iSCSI: patterns at several offsets read back,
#            also with rbd export straight from the image (same bytes)
#   discard  UNMAP / WRITE SAME(unmap) read back as zeros; GET LBA STATUS
#            reports a hole after discard and mapped data where written
#   resize   `rbd resize` elsewhere: READ CAPACITY follows, with 2A/09
#   osd      kill -9 one OSD in the middle of a write-and-verify run:
#            0 I/O errors, data verified, the OSD comes back
#   snap     kura-targetctl snapshot create / clone create on the RBD LU,
#            the clone exported with lun add reads the snapshot's data
#   vm       a QEMU guest on the RBD LUN writes, fsyncs, reads back, compares
#   cu       iscsi-test-cu -d (the backend's suites of family ALL; all of
#            ALL with KURA_CEPH_CU_TESTS=ALL) on an RBD LUN against
#            rbd-expected-results.txt
# Scenario list: KURA_CEPH_SCENARIOS="io discard ..." (default: all).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../conformance/lib.sh"   # integration/lib.sh + cu_parse
source "$here/ceph_lib.sh"
ceph_need
it_init ceph_rbd
need_cmd qemu-io qemu-img
grep -q 'rbd backend: on' "$KURA_BUILD/CMakeCache.txt" 2>/dev/null ||
  grep -q '^KURA_HAVE_RBD:INTERNAL=ON' "$KURA_BUILD/CMakeCache.txt" ||
  skip "kura built without the rbd backend (librbd-dev, librados-dev)"
SCENARIOS=${KURA_CEPH_SCENARIOS:-io discard resize osd snap vm cu}
IQN=iqn.2026-12.org.kura:ceph

ceph_start
ceph_pool_create rbd

# rbd_conf [LUN IMAGE]...: kura-targetd's configuration exporting images.
rbd_conf() {
  local f=$IT_DIR/kura.conf
  printf '[global]\ndata_dir = %s\nlog_level = info\n\n[target %s]\n' "$IT_DIR/data" "$IQN" >"$f"
  while [ $# -gt 0 ]; do
    printf '\n[lun %s]\nbackend = rbd\nrbd_pool = rbd\nrbd_image = %s\nrbd_conf = %s\nrbd_user = %s\nrbd_keyring = %s\n' \
      "$1" "$2" "$CEPH_CONF" "$CEPH_USER" "$CEPH_KEYRING" >>"$f"
    shift 2
  done
  echo "$f"
}

P=$(free_port)
start_gw() { kura_start -c "$(rbd_conf "$@")" --listen 127.0.0.1:$P; }
url() { kura_url 127.0.0.1:$P "$1" "$IQN"; }
T0=0
begin() { T0=$(date +%s.%N); log "---- scenario $1"; }
took() { log "---- scenario $1: $(echo "$(date +%s.%N) - $T0" | bc | cut -c1-5) s"; }

scenario_io() {
  begin io
  ceph_image_create rbd io 256M
  start_gw 0 io
  local U; U=$(url 0)
  check "write patterns" qio "$U" "write -P 0x11 0 4k" "write -P 0x22 1M 1M" \
    "write -P 0x33 $((5 * 1048576 + 512)) 131072" "write -P 0x44 $((256 * 1048576 - 65536)) 64k"
  check "read them back" qio "$U" "read -P 0x11 0 4k" "read -P 0x22 1M 1M" \
    "read -P 0x33 $((5 * 1048576 + 512)) 131072" "read -P 0x44 $((256 * 1048576 - 65536)) 64k" \
    "read -P 0 64M 64k"
  rbd_cli export --no-progress rbd/io "$IT_DIR/io.raw" >/dev/null 2>&1
  same_bytes() { cmp -s <(dd if="$IT_DIR/io.raw" bs=1M skip=1 count=1 2>/dev/null) \
    <(head -c 1M /dev/zero | tr '\0' '\042'); }
  check "rbd export of the image has the bytes written through iSCSI" same_bytes
  mismatch() { ! qio "$U" "read -P 0x99 0 4k" >/dev/null; }
  check "a wrong pattern is detected (the check can fail)" mismatch
  check "kura-targetd stops cleanly (exit 0)" kura_stop 20
  took io
}

# qemu-img map (GET LBA STATUS through QEMU's iscsi driver): "data" or "hole"
# for the extent that holds byte offset $2.
lba_state() {
  qemu-img map -f raw --output=json "$1" 2>/dev/null | python3 -c '
import json, sys
off = int(sys.argv[1])
for e in json.load(sys.stdin):
    if e["start"] <= off < e["start"] + e["length"]:
        print("data" if e["data"] else "hole"); break' "$2"
}

scenario_discard() {
  begin discard
  ceph_image_create rbd th 64M
  start_gw 0 th
  local U M=1048576; U=$(url 0)
  check "write 12 MiB of data" qio "$U" "write -P 0x5a 0 12M"
  check "GET LBA STATUS: written range mapped" test "$(lba_state "$U" $((2 * M)))" = data
  check "GET LBA STATUS: never written range is a hole" test "$(lba_state "$U" $((40 * M)))" = hole
  check "UNMAP 4 MiB (one whole object) and 5000 bytes rounded to blocks"     qio "$U" "discard 4M 4M" "discard $((9 * M)) 5120"
  check "unmapped ranges read as zeros, the rest unchanged" qio "$U" "read -P 0 4M 4M"     "read -P 0 $((9 * M)) 5120" "read -P 0x5a 0 4M" "read -P 0x5a $((9 * M + 5120)) $((3 * M - 5120))"
  check "GET LBA STATUS: the discarded object is a hole" test "$(lba_state "$U" $((5 * M)))" = hole
  check "WRITE SAME(16) with UNMAP of zeros over 2 MiB" qio "$U" "write -z -u 0 2M"
  check "zeroed range reads as zeros" qio "$U" "read -P 0 0 2M" "read -P 0x5a 2M 2M"
  check "kura-targetd stops cleanly" kura_stop 20
  took discard
}

scenario_resize() {
  begin resize
  ceph_image_create rbd grow 32M
  start_gw 0 grow
  touch "$IT_DIR/noop"
  py_iscsi 127.0.0.1 "$P" "
import struct
c = Conn(); login(c, 'iqn.2026-12.org.kura:resize', '$IQN')
scsi_cmd(c, b'\x00' * 6)                       # TEST UNIT READY clears the login UAs
def cap():
    st, d, _ = scsi_cmd(c, bytes([0x9e, 0x10]) + b'\0' * 8 + struct.pack('>I', 32), read_len=32)
    return (struct.unpack('>Q', d[:8])[0] + 1) * struct.unpack('>I', d[8:12])[0]
open('$IT_DIR/cap0', 'w').write(str(cap()))
open('$IT_DIR/step1', 'w').close()
wait_file('$IT_DIR/step2')
ua = None
for _ in range(100):                           # the watch fires within ~1 s
    st, d, sense = scsi_cmd(c, b'\x00' * 6, ua_retry=0)
    if st == 2:
        ua = sense_kcq(sense); break
    time.sleep(0.1)
open('$IT_DIR/ua', 'w').write('%x/%02x/%02x' % ua if ua else 'none')
open('$IT_DIR/cap1', 'w').write(str(cap()))
" >"$IT_DIR/resize.py.log" 2>&1 &
  local py=$!
  for _ in $(seq 1 100); do [ -f "$IT_DIR/step1" ] && break; sleep 0.1; done
  rbd_cli resize --size 48M rbd/grow >/dev/null 2>&1
  touch "$IT_DIR/step2"
  wait $py
  check "READ CAPACITY before: 32 MiB" test "$(cat "$IT_DIR/cap0" 2>/dev/null)" = $((32 << 20))
  check "UNIT ATTENTION 2A/09 after rbd resize" test "$(cat "$IT_DIR/ua" 2>/dev/null)" = 6/2a/09
  check "READ CAPACITY after: 48 MiB" test "$(cat "$IT_DIR/cap1" 2>/dev/null)" = $((48 << 20))
  check "the new space is usable" qio "$(url 0)" "write -P 0x77 $((47 << 20)) 1M" "read -P 0x77 $((47 << 20)) 1M"
  check "kura-targetd stops cleanly" kura_stop 20
  took resize
}

scenario_osd() {
  begin osd
  ceph_image_create rbd osd 256M
  start_gw 0 osd
  local U w=() r=() i; U=$(url 0)
  for i in $(seq 0 159); do
    w+=("write -P $((i % 250 + 1)) $((i * 1048576)) 1M")
    r+=("read -P $((i % 250 + 1)) $((i * 1048576)) 1M")
  done
  qio "$U" "${w[@]}" >"$IT_DIR/osd-write.out" 2>&1 &
  local wpid=$!
  sleep 1
  local running=no
  kill -0 $wpid 2>/dev/null && running=yes
  ceph_osd_kill 2
  check "osd.2 killed (-9) while the writes ran" test $running = yes
  wait $wpid; local rc=$?
  check "0 I/O errors in 160 MiB of writes across the OSD's death" test $rc = 0
  check "osd.2 marked down" ceph_osd_wait_down 2 30
  check "every MiB reads back its own pattern (one OSD down)" qio "$U" "${r[@]}"
  ceph_osd_start 2
  check "osd.2 back up" ceph_osd_wait_up 2 60
  check "data still verified after the OSD returned" qio "$U" "${r[@]}"
  check "kura-targetd stops cleanly" kura_stop 20
  took osd
}

# A QEMU VM (TCG, the tiny guest of tests/integration/vm/) whose virtio disk
# is the RBD-backed LUN through QEMU's iscsi driver: it writes (O_DIRECT +
# fsync), reads back and compares 64 KiB blocks, KURA_CEPH_VM_ITERS times.
scenario_vm() {
  begin vm
  ceph_vm_guest || { log "SKIP vm: $VM_WHY"; return; }
  ceph_image_create rbd vm 128M
  start_gw 0 vm
  local iters=${KURA_CEPH_VM_ITERS:-40} con=$IT_DIR/vm-console.log
  ceph_vm_start "$(url 0)" "$con" "kura.iters=$iters kura.blocks=512" 300
  wait "$VM_PID"
  for _ in $(seq 1 50); do grep -q "KURA-VM done" "$con" && break; sleep 0.1; done # the stamper's last lines
  check "the guest saw the 128 MiB disk" grep -q "KURA-VM ready disk=262144 " "$con"
  check "$iters write/fsync/read/compare iterations ok" \
    test "$(grep -c "KURA-VM iter [0-9]* ok" "$con")" = "$iters"
  check "no FAIL line, the guest finished" bash -c "! grep -q FAIL '$con' && grep -q 'KURA-VM done' '$con'"
  # what the guest wrote is in the image: block 1 through librbd directly
  rbd_cli export --no-progress rbd/vm "$IT_DIR/vm.raw" >/dev/null 2>&1
  check "the image holds the guest's block 1" \
    bash -c "dd if='$IT_DIR/vm.raw' bs=64k skip=1 count=1 2>/dev/null | grep -aq 'KURA-VM iter 0000000001 block 000001'"
  check "kura-targetd stops cleanly" kura_stop 20
  took vm
}

# kura-targetctl on an RBD LU: snapshot create takes an RBD snapshot of its
# image, clone create a format 2 clone of that snapshot, lun add exports the
# clone as LUN 1 (saved to the configuration file): the clone reads the
# snapshot's data, not what the origin got after it, and is writable on its
# own; rbd(8) sees the snapshot and the clone's parent.
scenario_snap() {
  begin snap
  local TC=$KURA_BUILD/tools/kura-targetctl
  [ -x "$TC" ] || { log "SKIP snap: kura-targetctl not built"; return; }
  ceph_image_create rbd orig 64M
  start_gw 0 orig
  local U0 U1 S=$IT_DIR/data/kura-targetd.sock M=1048576; U0=$(url 0); U1=$(url 1)
  tc() { "$TC" -s "$S" "$@"; }
  check "write A (0x41) at 0 and 8 MiB" qio "$U0" "write -P 0x41 0 1M" "write -P 0x41 $((8 * M)) 1M"
  check "snapshot create IQN 0 s1" bash -c "'$TC' -s '$S' snapshot create $IQN 0 s1 | tee -a '$IT_DIR/tc.out' | grep -q 'snapshot rbd/orig@s1 taken'"
  check "rbd snap ls sees s1" bash -c "timeout 60 rbd --conf '$CEPH_CONF' --keyring '$CEPH_KEYRING' --id '$CEPH_USER' snap ls rbd/orig | grep -qw s1"
  check "write B (0x42) over the first MiB after the snapshot" qio "$U0" "write -P 0x42 0 1M"
  check "clone create IQN 0 s1 copy (JSON)" bash -c "'$TC' -s '$S' clone create $IQN 0 s1 copy --json | tee -a '$IT_DIR/tc.out' | grep -q '\"clone\":\"copy\"'"
  check "rbd info: the clone's parent is rbd/orig@s1" bash -c "timeout 60 rbd --conf '$CEPH_CONF' --keyring '$CEPH_KEYRING' --id '$CEPH_USER' info rbd/copy | grep -q 'parent: rbd/orig@s1'"
  check "lun add IQN 1 --backend rbd --rbd-image copy" tc lun add "$IQN" 1 --backend rbd --rbd-pool rbd \
    --rbd-image copy --rbd-conf "$CEPH_CONF" --rbd-user "$CEPH_USER" --rbd-keyring "$CEPH_KEYRING"
  check "the lun add is saved to the configuration" grep -q "rbd_image = copy" "$IT_DIR/kura.conf"
  check "the clone (LUN 1) holds the snapshot's data, not B" qio "$U1" "read -P 0x41 0 1M" \
    "read -P 0x41 $((8 * M)) 1M" "read -P 0 $((2 * M)) 1M"
  check "the origin (LUN 0) holds B" qio "$U0" "read -P 0x42 0 1M" "read -P 0x41 $((8 * M)) 1M"
  check "the clone is writable on its own" qio "$U1" "write -P 0x43 $((8 * M)) 4k" "read -P 0x43 $((8 * M)) 4k"
  check "the origin did not see the clone's write" qio "$U0" "read -P 0x41 $((8 * M)) 1M"
  local out
  out=$(tc snapshot create "$IQN" 0 s1 2>&1)
  check "a second snapshot s1 is refused (exit 1, exists already)" bash -c "tc_rc=0; '$TC' -s '$S' snapshot create $IQN 0 s1 >/dev/null 2>&1 || tc_rc=\$?; [ \$tc_rc = 1 ] && echo '$out' | grep -q 'exists already'"
  check "clone of a missing snapshot is refused" bash -c "! '$TC' -s '$S' clone create $IQN 0 nosuch c2 2>/dev/null"
  check "snapshot of a LUN that does not exist is refused" bash -c "! '$TC' -s '$S' snapshot create $IQN 7 s2 2>/dev/null"
  cat "$IT_DIR/tc.out"
  check "kura-targetd stops cleanly" kura_stop 20
  took snap
}

# iscsi-test-cu -d, family ALL (every distinct test once) with a second,
# multipath URL on a second portal, against an RBD LUN; the non-passing
# tests must be exactly rbd-expected-results.txt (docs/ceph.md explains
# each difference from the file LUN's list, tests/conformance/).
# A few suites where the backend matters, to keep CI short (all of family
# ALL takes ~8 min here on Ceph: KURA_CEPH_CU_TESTS=ALL runs it, as
# docs/ceph.md reports; its non-passing list equals the file LUN's).
CU_DEFAULT=ALL.GetLBAStatus,ALL.ReadCapacity16,ALL.SyncCache10,ALL.Inquiry
scenario_cu() {
  begin cu
  command -v iscsi-test-cu >/dev/null || { log "SKIP cu: iscsi-test-cu not installed"; return; }
  ceph_image_create rbd cu 128M
  local P2 f=$IT_DIR/kura.conf E=$here/rbd-expected-results.txt
  P2=$(free_port 127.0.0.2)
  rbd_conf 0 cu >/dev/null
  sed -i "s/^\[target /[portal one]\naddress = 127.0.0.1:$P\n[portal two]\naddress = 127.0.0.2:$P2\n\n[target /" "$f"
  sed -i 's/^log_level = info/log_level = warn/' "$f"
  KURA_WAIT="127.0.0.1:$P 127.0.0.2:$P2" kura_start -c "$f"
  local spec specs
  IFS=, read -ra specs <<<"${KURA_CEPH_CU_TESTS:-$CU_DEFAULT}"
  : >"$IT_DIR/cu-results.txt"
  for spec in "${specs[@]}"; do
    (cd "$IT_DIR" && timeout 1500 iscsi-test-cu -d -v -t "$spec" \
       --initiator-name=iqn.2026-12.org.kura:ceph-cu-1 --initiator-name-2=iqn.2026-12.org.kura:ceph-cu-2 \
       "$(url 0)" "iscsi://127.0.0.2:$P2/$IQN/0") >"$IT_DIR/cu.out" 2>&1
    cu_parse <"$IT_DIR/cu.out" | sed 's/^/ALL./' >>"$IT_DIR/cu-results.txt"
  done
  local n nf ns
  n=$(wc -l <"$IT_DIR/cu-results.txt")
  nf=$(awk '$2=="FAIL"' "$IT_DIR/cu-results.txt" | wc -l)
  ns=$(awk '$2=="SKIP"' "$IT_DIR/cu-results.txt" | wc -l)
  log "iscsi-test-cu on rbd: $n tests, $nf failed, $ns skipped"
  mkdir -p "$KURA_BUILD/conformance-results" 2>/dev/null &&
    cp "$IT_DIR/cu-results.txt" "$KURA_BUILD/conformance-results/rbd-results.txt" 2>/dev/null
  awk '$2!="PASS" {print $1, $2}' "$IT_DIR/cu-results.txt" | sort >"$IT_DIR/cu-actual.lst"
  if [ "${KURA_CONFORMANCE_UPDATE:-}" = 1 ] && [ "${specs[*]}" = ALL ]; then
    { echo "# iscsi-test-cu -d -t ALL on an RBD LUN (tests/ceph/test_rbd.sh, scenario cu): TESTNAME FAIL|SKIP reason"
      echo "# ($n tests, $nf failed, $ns skipped). Differences from the file LUN: docs/ceph.md."
      awk '$2!="PASS"' "$IT_DIR/cu-results.txt" | sort | cu_explain; } >"$E"
  fi
  check "iscsi-test-cu ran at least 10 tests" test "$n" -ge 10
  # expected, restricted to the tests that ran
  awk '{print $1}' "$IT_DIR/cu-results.txt" | sort >"$IT_DIR/cu-ran.lst"
  grep -vE '^\s*(#|$)' "$E" | awk '{print $1, $2}' | sort | join - "$IT_DIR/cu-ran.lst" >"$IT_DIR/cu-expected.lst"
  check "non-passing tests match rbd-expected-results.txt" diff -u "$IT_DIR/cu-expected.lst" "$IT_DIR/cu-actual.lst"
  check "kura-targetd survived the suite" kill -0 "$KURA_PID"
  check "kura-targetd stops cleanly" kura_stop 20
  took cu
}

for s in $SCENARIOS; do "scenario_$s"; done
ceph_stop
it_finish
