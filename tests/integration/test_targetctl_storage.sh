#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kura-targetctl raid / pool commands on a thin LUN over RAID-6 of 6 member
# files (as test_thin_raid6.sh): `raid status --json` parses and shows 6
# active members; `pool status` shows used chunks after a qemu-io write;
# `raid fail r6 2` => degraded, role 2 failed; `raid add-spare r6 s0.img
# --wait` => the rebuild runs to the end (percentage lines, stdout is not a
# tty) and the array is clean with 6 active members; `raid scrub r6 --wait`
# reports 0 mismatches; bad requests are refused (exit 1); the file stand-in
# (raid-NAME.scrub) still works; the pattern reads back throughout.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/thin_lib.sh"
it_init targetctl_storage
need_cmd qemu-io python3
CTL=$KURA_BUILD/tools/kura-targetctl
[ -x "$CTL" ] || skip "kura-targetctl not built"

P=$(free_port)
IQN=iqn.2026-11.org.kura:ctlstorage
D=$IT_DIR/data
raid6_thin_conf "$IQN"
U=iscsi://127.0.0.1:$P/$IQN/0
kura_start -c "$IT_DIR/kura.conf" --listen 127.0.0.1:$P
SOCK=$D/kura-targetd.sock
ctl() { "$CTL" -s "$SOCK" "$@"; }
# pyq EXPR: evaluate EXPR on the JSON read from stdin (as j); exit 0 if true
pyq() { python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }
verify() { qio "$U" "read -P 0x5a 0 8M"; }
# wait_ctl EXPR SECONDS: until `raid status r6 --json` satisfies EXPR
wait_ctl() {
  local i
  for i in $(seq 1 $(( $2 * 10 ))); do ctl raid status r6 --json | pyq "$1" && return 0; sleep 0.1; done
  log "status now: $(ctl raid status r6)"; return 1
}

check "raid status --json parses and lists r6" bash -c "'$CTL' -s '$SOCK' raid status --json | \
  python3 -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if j[0][\"name\"]==\"r6\" else 1)'"
check "raid status r6 --json: level 6, 6 active members" \
  wait_ctl "j['level']==6 and len(j['members'])==6 and all(m['state']=='active' for m in j['members'])" 10
log "$(ctl raid status r6)"
check "pool status --json before any write: 0 chunks used" bash -c "'$CTL' -s '$SOCK' pool status p --json | \
  python3 -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if j[\"chunks\"][\"used\"]==0 and j[\"volumes\"]==1 else 1)'"
check "write the pattern with qemu-io" qio "$U" "write -P 0x5a 0 8M"
out=$(ctl pool status --json)
log "pool: $(ctl pool status)"
check "pool status shows the 128 chunks written (8 MiB / 64 KiB)" \
  pyq "j[0]['chunks']['used']>=128 and j[0]['chunks']['free']+j[0]['chunks']['used']==j[0]['chunks']['total'] and j[0]['overcommit']>0" <<<"$out"

check "raid fail r6 2" ctl raid fail r6 2
check "the array is degraded, role 2 failed" \
  wait_ctl "j['state']=='degraded' and j['members'][2]['state'] in ('failed','missing')" 10
check "failing role 2 again is refused (exit 1)" bash -c "'$CTL' -s '$SOCK' raid fail r6 2; test \$? = 1"
check "a bad role is refused" bash -c "! '$CTL' -s '$SOCK' raid fail r6 9"
check "an unknown array is refused" bash -c "! '$CTL' -s '$SOCK' raid scrub nosuch"
check "pattern verifies while degraded" verify

out=$(ctl raid add-spare r6 s0.img --wait 2>&1); rc=$?
log "add-spare --wait: $(tail -3 <<<"$out" | tr '\n' '|')"
check "raid add-spare --wait returns 0" test "$rc" = 0
check "--wait printed rebuild percentages" grep -qE "^rebuild r6 role 2: [0-9]+%" <<<"$out"
# (dirty, not clean, while the write-intent bitmap still has a region set)
check "--wait ends with rebuild at 100% and 6 active members" bash -c \
  "grep -q 'rebuild r6 role 2: 100%' <<<'$out' && tail -1 <<<'$out' | grep -qE 'state=(clean|dirty) .*active=6 failed=0 .*rebuilding=0'"
check "status: 6 active members, role 2 on s0.img" \
  wait_ctl "j['state']=='clean' and all(m['state']=='active' for m in j['members']) and j['members'][2]['path'].endswith('s0.img')" 10
check "pattern verifies after the rebuild" verify

out=$(ctl raid scrub r6 --wait 2>&1); rc=$?
log "scrub --wait: $(tail -2 <<<"$out" | tr '\n' '|')"
check "raid scrub --wait returns 0" test "$rc" = 0
check "scrub ran to 100%" grep -q "^scrub r6: 100%" <<<"$out"
check "scrub reports 0 mismatches" bash -c "tail -1 <<<'$out' | grep -q 'scrubbing=0 scrub_pct=100 scrub_units=[1-9][0-9]* scrub_mismatches=0'"
check "scrub json: 0 mismatches" wait_ctl "j['scrub']['running']==False and j['scrub']['mismatches']==0 and j['scrub']['units']>0" 10

echo check >"$D/raid-r6.scrub"
check "the file stand-in still starts a scrub" bash -c \
  "for i in \$(seq 1 100); do [ -e '$D/raid-r6.scrub' ] || exit 0; sleep 0.1; done; exit 1"
check "and it is reported done with 0 mismatches" wait_ctl "j['scrub']['running']==False and j['scrub']['pct']==100 and j['scrub']['mismatches']==0" 60
check "storage.status still written" grep -q "^raid r6 state=clean" "$D/storage.status"
check "stop" kura_stop
it_finish
