#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kura-targetctl against a running daemon: every listing in text and --json
# (validated by python3 json), session fields of a live py_iscsi session,
# show lun, clear-reservation after a PROUT RESERVE, exit codes, and refusal
# of a non-root peer (nobody) by SO_PEERCRED.
source "$(dirname "$0")/lib.sh"
it_init targetctl
CTL=$KURA_BUILD/tools/kura-targetctl
[ -x "$CTL" ] || skip "kura-targetctl not built"
P=$(free_port)
kura_start --listen "127.0.0.1:$P"
SOCK=$IT_DIR/data/kura-targetd.sock
ctl() { "$CTL" -s "$SOCK" "$@"; }
for what in targets portals luns sessions; do
  check "list $what (text)" ctl list "$what"
  check "list $what --json parses" bash -c "'$CTL' -s '$SOCK' list $what --json | python3 -c 'import json,sys; assert isinstance(json.load(sys.stdin), list)'"
done
# a session that registers + reserves, then waits
py_iscsi 127.0.0.1 "$P" "
c = Conn(); c.s.settimeout(60)
login(c, 'iqn.2026-11.org.kura:it-ctl', '$KURA_IQN', isid=b'\x80\0\0\0\0\x07')
p = struct.pack('>QQ', 0, 0x1234) + bytes(8)
assert scsi_cmd(c, bytes([0x5F, 0, 0, 0, 0, 0, 0, 0, 24, 0]), write_data=p)[0] == 0
assert scsi_cmd(c, bytes([0x5F, 1, 1, 0, 0, 0, 0, 0, 24, 0]), write_data=struct.pack('>QQ', 0x1234, 0) + bytes(8))[0] == 0
open('$IT_DIR/reserved', 'w').close()
time.sleep(8)
" >"$IT_DIR/pr.log" 2>&1 & IT_PIDS+=($!)
for _ in $(seq 1 50); do [ -f "$IT_DIR/reserved" ] && break; sleep 0.1; done
S=$(ctl list sessions --json)
log "sessions: $S"
check "session fields" python3 -c "
import json,sys; s=[x for x in json.loads(sys.argv[1]) if x['initiator']=='iqn.2026-11.org.kura:it-ctl'][0]
assert s['isid']=='800000000007' and s['tsih']>0 and s['address'] and s['target']=='$KURA_IQN'
assert s['header_digest'] in ('None','CRC32C') and 'in_flight' in s and s['params']['MaxBurstLength']>0" "$S"
check "show lun: reserved, one registration" bash -c "'$CTL' -s '$SOCK' show lun $KURA_IQN 0 --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"reserved\"] and len(d[\"registrations\"])==1 and d[\"registrations\"][0][\"key\"]==\"0x0000000000001234\"'"
check "clear-reservation" ctl clear-reservation "$KURA_IQN" 0
check "show lun: nothing left" bash -c "'$CTL' -s '$SOCK' show lun $KURA_IQN 0 --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert not d[\"reserved\"] and not d[\"registrations\"]'"
check "unknown LUN: exit 1" bash -c "'$CTL' -s '$SOCK' show lun $KURA_IQN 9; test \$? = 1"
check "usage: exit 2" bash -c "'$CTL'; test \$? = 2"
check "no daemon: exit 3" bash -c "'$CTL' -s '$IT_DIR/nope.sock' list targets; test \$? = 3"
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
  chmod 755 "$IT_DIR" "$IT_DIR/data"
  check "nobody cannot connect (mode 0600)" bash -c "setpriv --reuid=nobody --regid=nogroup --clear-groups '$CTL' -s '$SOCK' list targets; test \$? = 3"
  chmod 666 "$SOCK"
  check "nobody refused by SO_PEERCRED (exit 1)" bash -c "setpriv --reuid=nobody --regid=nogroup --clear-groups '$CTL' -s '$SOCK' list targets 2>&1 | grep -q 'permission denied'"
  chmod 600 "$SOCK"
fi
check "kura-targetd exits 0" kura_stop
it_finish
