#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kura-targetctl raid scrub --stop and raid remove through the real daemon:
# a thin LUN on RAID-6 r over six 64M member files (rebuild_rate 10M, so a
# scrub or rebuild takes seconds); qemu-io writes a pattern.
# - `raid scrub r --stop` with no scrub: ERR no scrub running on r (exit 1);
#   `raid scrub r` then `--stop` while it runs: stopped below 100%, status
#   shows no scrub running and scrub_stopped=1.
# - `raid remove r 2` of an active member: ERR member 2 is active (exit 1);
#   `raid fail r 2`, `raid remove r 2`: role 2 missing, the -c file no longer
#   lists m2.img; `raid add-spare r s0.img --wait` rebuilds role 2; pattern
#   reads back; a full scrub finds 0 mismatches.
# - an unused spare s1.img is added and removed by path (the file loses it).
# - restart: the array assembles without the removed member (m2.img is still
#   on disk but no longer configured), 6 active roles, pattern intact.
# - `raid fail r 4`, `raid remove r m4.img` (by path), restart: the array
#   assembles degraded with role 4 missing, pattern intact.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/thin_lib.sh"
it_init raid_admin
need_cmd qemu-io python3
CTL=$KURA_BUILD/tools/kura-targetctl
[ -x "$CTL" ] || skip "kura-targetctl not built"

P=$(free_port)
IQN=iqn.2026-11.org.kura:raidadmin
D=$IT_DIR/data
CONF=$IT_DIR/kura.conf
RAID6_ARRAY=r RAID6_REBUILD_RATE=10M raid6_thin_conf "$IQN"
U=iscsi://127.0.0.1:$P/$IQN/0
kura_start -c "$CONF" --listen 127.0.0.1:$P
SOCK=$D/kura-targetd.sock
ctl() { "$CTL" -s "$SOCK" "$@"; }
pyq() { python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }
wait_ctl() {
  local i
  for i in $(seq 1 $(( $2 * 10 ))); do ctl raid status r --json | pyq "$1" && return 0; sleep 0.1; done
  log "status now: $(ctl raid status r)"; return 1
}
# refused REGEX ARGS...: exit 1 and the daemon's ERR reason (printed by the
# client as "kura-targetctl: REASON")
refused() {
  local re=$1 out rc; shift
  out=$(ctl "$@" 2>&1); rc=$?
  log "$* -> rc=$rc $out"
  [ "$rc" = 1 ] && grep -qE "$re" <<<"$out"
}
verify() { qio "$U" "read -P 0x5a 0 8M" "read -P 0x3c 100M 4M"; }
members_line() { sed -n 's/^members *= *//p' "$CONF"; }

check "6 active members" wait_ctl "len(j['members'])==6 and all(m['state']=='active' for m in j['members'])" 10
check "write the pattern with qemu-io" qio "$U" "write -P 0x5a 0 8M" "write -P 0x3c 100M 4M"

# ---- scrub --stop ----
check "scrub --stop with no scrub: ERR no scrub running on r" refused "^(ERR |kura-targetctl: )no scrub running on r$" raid scrub r --stop
check "raid scrub r" ctl raid scrub r
check "the scrub is running" wait_ctl "j['scrub']['running'] and j['scrub']['units']>0" 10
out=$(ctl raid scrub r --stop 2>&1); rc=$?
log "scrub --stop: $out"
check "raid scrub r --stop returns 0" test "$rc" = 0
check "it says where it stopped (below 100%)" grep -qE "^scrub of r stopped at [0-9]{1,2}%: units=[1-9][0-9]* mismatches=0 repaired=0$" <<<"$out"
check "status: no scrub running, stopped, below 100%" \
  wait_ctl "not j['scrub']['running'] and j['scrub']['stopped'] and j['scrub']['pct']<100" 5
check "text status: scrubbing=0 ... scrub_stopped=1" bash -c "'$CTL' -s '$SOCK' raid status r | head -1 | grep -q 'scrubbing=0 .*scrub_stopped=1'"
sleep 0.5
check "it stays stopped" wait_ctl "not j['scrub']['running'] and j['scrub']['stopped']" 1
check "a second --stop is refused" refused "^(ERR |kura-targetctl: )no scrub running on r$" raid scrub r --stop

# ---- remove a failed member ----
check "removing an active member is refused" refused "^(ERR |kura-targetctl: )member 2 is active: fail it first$" raid remove r 2
check "removing a path that is not in the array is refused" refused "^(ERR |kura-targetctl: ).*is not a member or spare of r" raid remove r nosuch.img
check "raid fail r 2" ctl raid fail r 2
out=$(ctl raid remove r 2 2>&1); rc=$?
log "remove: $out"
check "raid remove r 2 returns 0" test "$rc" = 0
check "it names the removed file" grep -q "role 2 of r removed (.*/m2.img)" <<<"$out"
check "role 2 shows missing, the array degraded" \
  wait_ctl "j['state']=='degraded' and j['members'][2]['state']=='missing' and j['members'][2]['path']==''" 5
check "the config file no longer lists m2.img" bash -c "! grep -q 'm2.img' '$CONF' && [ \"\$(sed -n 's/^members *= *//p' '$CONF')\" = 'm0.img, m1.img, m3.img, m4.img, m5.img' ]"
check "removing it again is refused" refused "^(ERR |kura-targetctl: )role 2 is already missing$" raid remove r 2
check "pattern verifies while degraded" verify

out=$(ctl raid add-spare r s0.img --wait 2>&1); rc=$?
log "add-spare --wait: $(tail -2 <<<"$out" | tr '\n' '|')"
check "raid add-spare r s0.img --wait returns 0" test "$rc" = 0
check "the rebuild ran to the end" grep -q "rebuild r role 2: 100%" <<<"$out"
check "6 active roles, role 2 on s0.img" \
  wait_ctl "all(m['state']=='active' for m in j['members']) and j['members'][2]['path'].endswith('/s0.img')" 10
check "pattern verifies after the rebuild" verify
out=$(ctl raid scrub r --wait 2>&1)
log "scrub --wait: $(tail -1 <<<"$out")"
check "a full scrub: 100%, 0 mismatches, no longer 'stopped'" \
  wait_ctl "not j['scrub']['running'] and not j['scrub']['stopped'] and j['scrub']['pct']==100 and j['scrub']['mismatches']==0" 30

# ---- remove an unused spare ----
check "raid add-spare r s1.img" ctl raid add-spare r s1.img
check "one spare" wait_ctl "j['spares']==1" 5
check "raid remove r s1.img" ctl raid remove r s1.img
check "no spare, s1.img gone from the file" bash -c "! grep -q 's1.img' '$CONF'"
check "status: 0 spares" wait_ctl "j['spares']==0" 5
log "config now: $(grep -E '^(members|spares)' "$CONF" | tr '\n' '|')"

# ---- restart ----
check "stop" kura_stop
check "m2.img is still on disk" test -e "$D/m2.img"
kura_restart
check "after the restart: 6 active roles, role 2 on s0.img, no spare" \
  wait_ctl "j['state'] in ('clean','dirty') and all(m['state']=='active' for m in j['members']) and j['members'][2]['path'].endswith('/s0.img') and j['spares']==0" 20
check "pattern verifies after the restart" verify

# ---- remove by path, restart degraded ----
check "raid fail r 4" ctl raid fail r 4
check "raid remove r m4.img (by path)" ctl raid remove r m4.img
check "the config file no longer lists m4.img" bash -c "! grep -q 'm4.img' '$CONF'"
check "role 4 missing" wait_ctl "j['members'][4]['state']=='missing' and j['state']=='degraded'" 5
check "stop" kura_stop
kura_restart
check "after a restart the array assembles degraded without m4.img (role 4 missing)" \
  wait_ctl "j['state']=='degraded' and j['members'][4]['state']=='missing' and sum(m['state']=='active' for m in j['members'])==5" 20
check "pattern verifies degraded after the restart" verify
check "stop" kura_stop
it_finish
