#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# I1 at most one host's writes land on a VM disk at any time, checked on the
# disk afterwards. vm1's guest writes block OFF + N with sequence number N
# (kura.base: every boot writes the same blocks, so a late write of an older
# writer would overwrite a newer writer's block). The VM goes through a live
# migration hv1 -> hv2, then hv2 is frozen (daemon and QEMU), fenced, and vm1
# restarts (a new boot, a new tag) on hv1; then hv2 is resumed.
# On the disk afterwards, for every block the restarted guest verified
# (console "ok" lines), the block holds the restarted guest's latest write to
# it: no write of the first boot (on hv1, then hv2) landed over it; and the
# first boot's blocks carry sequence numbers it wrote before the fence.
source "$(dirname "$0")/cluster_lib.sh"
cl_init i1
CL_APPEND="kura.base=100" cl_cluster 3 vm.prefer=hv1
check "the guest writes on hv1" cl_wait_writes hv1 vm1 3 90
T1=$(grep -ao 'KURA-CW ready tag [^ ]*' "$(cl_console hv1 vm1)" | tail -1 | awk '{print $4}')
check "migrate vm1 to hv2" cl_lockctl migrate vm1 --to hv2
check "the guest writes on hv2" cl_wait_writes hv2 vm1 3 60
Q2=$(cl_vm_pid hv2 vm1)
kill -STOP "${CL_PID[hv2]}" "$Q2"
check "hv2 fenced" wait_for 30 cl_state_is hv1 hv2 fenced
check "vm1 restarted on hv1 (prefer)" wait_for 30 bash -c "[ \"\$(\"$LOCKCTL\" -c '$CONF' --host hv1 status | awk '\$2 == \"vm1\" {print \$4}')\" = hv1 ]"
check "the restarted guest writes" cl_wait_writes hv1 vm1 5 90
kill -CONT "$Q2" "${CL_PID[hv2]}"
check "hv2 kills its QEMU" wait_for 15 bash -c "! kill -0 $Q2 2>/dev/null"
sleep 2
CON1=$(cl_console hv1 vm1)
T2=$(grep -ao 'KURA-CW ready tag [^ ]*' "$CON1" | tail -1 | awk '{print $4}')
check "the restart is a new boot ($T1 -> $T2)" [ "$T1" != "$T2" ]
# Freeze the writer, then compare the disk with the consoles.
kill -STOP "$(cl_vm_pid hv1 vm1)"
sleep 1
cl_lun_scan 1 >"$CL_D/scan"
cat "$CON1" "$(cl_console hv2 vm1)" | tr -d '\r' | \
  awk '$1 == "KURA-CW" && $2 == "tag" && $8 == "ok" {print $3, $5, $7}' >"$CL_D/oks"
python3 - "$CL_D/scan" "$CL_D/oks" "$T1" "$T2" >"$CL_D/i1.out" <<'PY'
import sys
scan = {}
for l in open(sys.argv[1]):
    tag, seq, blk, at = l.split()
    scan[int(at)] = (tag, int(seq))
t1, t2 = sys.argv[3], sys.argv[4]
last2, max1 = {}, 0
for l in open(sys.argv[2]):
    tag, seq, blk = l.split()
    if tag == t2:
        last2[int(blk)] = max(last2.get(int(blk), 0), int(seq))
    elif tag == t1:
        max1 = max(max1, int(seq))
bad = [b for b, s in last2.items() if scan.get(b) != (t2, s)]
late1 = [b for b, (t, s) in scan.items() if t == t1 and s > max1 + 1]
print(len(last2), len(bad), len(late1))
for b in bad[:5]:
    print("block", b, "holds", scan.get(b), "expected", (t2, last2[b]))
PY
read -r N2 BAD LATE <"$CL_D/i1.out"
tail -n +2 "$CL_D/i1.out"
check "the restarted guest verified $N2 blocks" [ "${N2:-0}" -gt 0 ]
check "each holds its latest write: no older writer landed over it ($BAD bad)" [ "$BAD" = 0 ]
check "no first-boot block newer than its last acknowledged write ($LATE)" [ "$LATE" = 0 ]
it_finish
