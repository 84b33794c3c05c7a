#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# I2 no lease moves before the victim's key is gone from every LUN it was
# registered on. hv1 runs vm1 and crashes (kill -9 of its daemon and QEMU);
# hv2 fences it and takes vm1's lease. From the crash until the take-over,
# a sampler reads, in this order, the lease owner (kura-lockctl dump --json,
# straight from the HA LUN) and then the keys on the HA LUN and on the VM
# disk. Keys only go away, so a sample that shows the lease already moved
# to hv2 and, read afterwards, hv1's key still registered anywhere is a
# violation. Also checked: hv1's slot reads FENCED before (or when) the
# lease shows hv2, and samples were taken on both sides of the move.
source "$(dirname "$0")/cluster_lib.sh"
cl_init i2
cl_need_prc
cl_cluster 2
K1=$(cl_host_key hv1)
cl_regs "$(cl_url 1)" >"$CL_D/keys0"; cat "$CL_D/keys0"
check "hv1's key $K1 is on the VM disk" grep -q "$K1" "$CL_D/keys0"

sample() {  # "OWNER SLOT1 KEYS..." : lease owner, hv1's slot state, then every key
  local d
  d=$("$LOCKCTL" -c "$CONF" dump --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
own = next((l["owner"] for l in d["leases"] if l.get("vm") == "vm1"), 0)
st = next((h["state"] for h in d["hosts"] if h.get("id") == 1), "?")
print(own, st)' 2>/dev/null)
  echo "$d $( "$LOCKCTL" -c "$CONF" dump 2>/dev/null | grep 'registered keys' | grep -o '[0-9a-f]\{16\}' | tr '\n' ' ')" \
       "$(cl_regs "$(cl_url 1)" | awk '{print $2}' | tr '\n' ' ')"
}
sampler() { while [ ! -f "$CL_D/stop" ]; do sample >>"$CL_D/samples"; done; }
sampler & SAMP=$!
sleep 0.5
cl_host_kill9 hv1
check "hv2 takes vm1" wait_for 30 bash -c "[ \"\$(\"$LOCKCTL\" -c '$CONF' --host hv2 status | awk '\$2 == \"vm1\" {print \$4}')\" = hv2 ]"
sleep 1
touch "$CL_D/stop"; wait $SAMP
BEFORE=$(awk '$1 == 1' "$CL_D/samples" | wc -l); AFTER=$(awk '$1 == 2' "$CL_D/samples" | wc -l)
BAD=$(awk -v k="$K1" '$1 == 2 && index($0, k)' "$CL_D/samples" | wc -l)
UNFENCED=$(awk '$1 == 2 && $2 != "fenced"' "$CL_D/samples" | wc -l)
log "$(wc -l <"$CL_D/samples") samples: $BEFORE with the lease on hv1, $AFTER on hv2"
check "samples on both sides of the move" [ "$BEFORE" -gt 0 ] && [ "$AFTER" -gt 0 ]
check "no sample shows the lease moved while hv1's key was still registered ($BAD)" [ "$BAD" = 0 ]
check "no sample shows the lease moved before hv1's slot read FENCED ($UNFENCED)" [ "$UNFENCED" = 0 ]
it_finish
