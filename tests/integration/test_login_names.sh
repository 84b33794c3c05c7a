#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# InitiatorName and TargetName checked at login (issue 11 item 4; RFC 3720
# 3.2.6, RFC 7143 4.2.7, RFC 3722), with raw login PDUs (python3): a
# malformed name -- terminal escape sequences, a newline, '_', a bad
# iqn. date, short eui., non-ASCII, over 223 bytes -- is refused with login
# status 02/07, a well-formed unknown target keeps 02/03, upper case is
# folded (stringprep's mapping) and the session shows the folded name. The
# log shows each refused name escaped: no raw control byte reaches it, and
# `kura-targetctl list sessions` (text and --json) prints only checked names.
source "$(dirname "$0")/lib.sh"
it_init login_names
need_cmd python3
CTL=$KURA_BUILD/tools/kura-targetctl
[ -x "$CTL" ] || skip "kura-targetctl not built"

P=$(free_port)
kura_start --listen 127.0.0.1:$P
SOCK=$IT_DIR/data/kura-targetd.sock

py_iscsi 127.0.0.1 "$P" "
IQN = '$KURA_IQN'
fails = []
def attempt(init, target):
    c = Conn()
    keys = [('InitiatorName', init), ('SessionType', 'Normal'), ('TargetName', target),
            ('AuthMethod', 'None')]
    data = b''.join(k.encode() + b'=' + (v if isinstance(v, bytes) else v.encode()) + b'\0'
                    for k, v in keys)
    h = bytearray(bhs(0x03, 0x81, len(data), itt=1, immediate=True))
    h[8:14] = b'\x80\0\0\0\0\x07'; h[24:28] = struct.pack('>I', 1)
    c.s.sendall(bytes(h) + pad4(data))
    r = recvn(c.s, 48)
    c.s.close()
    return r[36], r[37]
def expect(name, init, target, want):
    got = attempt(init, target)
    ok = got == want
    print('%-48s %d/%d %s' % (name, got[0], got[1], 'ok' if ok else 'NOT OK (want %d/%d)' % want), flush=True)
    if not ok: fails.append(name)
GOOD_INI = 'iqn.2026-11.org.kura:it-names'
BAD = [
    ('escape sequence', b'iqn.2026-11.org.kura:\x1b[31mred\x1b[0m'),
    ('newline', b'iqn.2026-11.org.kura:a\nINFO forged line'),
    ('underscore', b'iqn.2026-11.org.kura:my_vm'),
    ('no date', b'iqn.x:y'),
    ('month 13', b'iqn.2026-13.org.kura:x'),
    ('short eui.', b'eui.0123'),
    ('naa. with a non-hex digit', b'naa.0123456789ABCDEG'),
    ('no prefix', b'host1'),
    ('non-ASCII', 'iqn.2026-11.org.kura:caf\u00e9'.encode()),
    ('224 bytes', b'iqn.2026-11.org.kura:' + b'a' * 203),
]
for name, n in BAD:
    expect('InitiatorName ' + name, n, IQN, (2, 7))
for name, n in BAD:
    expect('TargetName ' + name, GOOD_INI, n, (2, 7))
expect('unknown well-formed target', GOOD_INI, 'iqn.2026-11.org.kura:nothere', (2, 3))
expect('223 bytes is fine (unknown target)', 'iqn.2026-11.org.kura:' + 'a' * 202, 'iqn.2026-11.org.kura:nothere', (2, 3))
expect('eui. initiator', 'eui.02004567A425678D', IQN, (0, 0))
# upper case is folded; this session stays up for kura-targetctl
c = Conn()
st, det, got, tsih = login(c, 'IQN.2026-11.ORG.Kura:IT-Upper', IQN.upper())
print('upper-case names log in: %d/%d' % (st, det), flush=True)
if (st, det) != (0, 0): fails.append('upper case')
open('$IT_DIR/upper.ready', 'w').close()
wait_file('$IT_DIR/upper.done')
c.s.close()
sys.exit(1 if fails else 0)
" >"$IT_DIR/py.log" 2>&1 &
PY=$!
for i in $(seq 1 100); do [ -e "$IT_DIR/upper.ready" ] && break; kill -0 $PY 2>/dev/null || break; sleep 0.1; done
"$KURA_BUILD/tools/kura-targetctl" -s "$SOCK" list sessions >"$IT_DIR/sessions.txt" 2>&1
"$KURA_BUILD/tools/kura-targetctl" -s "$SOCK" list sessions --json >"$IT_DIR/sessions.json" 2>&1
touch "$IT_DIR/upper.done"
wait $PY; rc=$?
cat "$IT_DIR/py.log"
check "every malformed name refused 02/07, unknown target 02/03, folded names accepted" test $rc -eq 0
check "list sessions shows the folded initiator name" grep -q "^iqn.2026-11.org.kura:it-upper " "$IT_DIR/sessions.txt"
check "list sessions --json shows the folded names" python3 -c "
import json, sys
s = json.load(open('$IT_DIR/sessions.json'))
assert [x['initiator'] for x in s] == ['iqn.2026-11.org.kura:it-upper'], s
assert s[0]['target'] == '$KURA_IQN', s"
no_raw_control() { ! LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$IT_DIR/kura.log"; }
check "no raw control byte in the log" no_raw_control
check "the refused escape sequence is logged escaped" grep -qF 'InitiatorName "iqn.2026-11.org.kura:\x1b[31mred\x1b[0m" refused' "$IT_DIR/kura.log"
check "the refused newline is logged escaped, no forged line" \
  bash -c "grep -qF 'kura:a\\x0aINFO forged line\" refused' '$IT_DIR/kura.log' && ! grep -q '^INFO forged line' '$IT_DIR/kura.log'"
check "a refused TargetName is logged escaped" grep -qF 'TargetName "iqn.2026-11.org.kura:caf\xc3\xa9" refused' "$IT_DIR/kura.log"
check "daemon stops cleanly" kura_stop
it_finish
