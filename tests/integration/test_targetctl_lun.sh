#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kura-targetctl lun add / remove at run time: with a qemu-io loop writing
# and verifying LUN 0 for the whole run, `lun add` LUN 1 => REPORT LUNS lists
# it, a session logged in before sees 3F/0E REPORTED LUNS DATA HAS CHANGED
# once, qemu-io writes and reads LUN 1. `lun remove` LUN 1 while a reader
# loop hammers it => its commands fail (25/00 LOGICAL UNIT NOT SUPPORTED for
# a session that stays), the daemon lives on, LUN 0's loop never errs. The
# -c file gets / loses the [lun 1] section, --check-config accepts it, and a
# restart keeps the change. A LUN with a PR registration needs --force.
source "$(dirname "$0")/lib.sh"
it_init targetctl_lun
need_cmd qemu-io iscsi-ls python3
CTL=$KURA_BUILD/tools/kura-targetctl
[ -x "$CTL" ] || skip "kura-targetctl not built"

P=$(free_port)
H=127.0.0.1:$P
T=iqn.2026-11.org.kura:lun-live
CONF=$IT_DIR/kura.conf
cat >"$CONF" <<CONF
; comment that must survive
[portal main]
address = 127.0.0.1:$P

[target $T]
[lun 0]
backend = memory
size = 16M
CONF
KURA_WAIT=$H kura_start -c "$CONF"
SOCK=$IT_DIR/data/kura-targetd.sock
ctl() { "$CTL" -s "$SOCK" "$@"; }
parses() { "$KURA_TARGETD" --check-config -c "$CONF" >/dev/null; }
alive() { kill -0 "$(cat "$IT_DIR/data/kura-targetd.pid" 2>/dev/null || echo 0)" 2>/dev/null || ss -ltn | grep -q ":$P "; }

rm -f "$IT_DIR/io-fail" "$IT_DIR/io-stop"
# Adding or removing a LUN raises 3F/0E REPORTED LUNS DATA HAS CHANGED on
# every nexus (SPC-4 7.6.2): a qemu-io that logged in just before meets it on
# its MODE SENSE and says so. That is the target being right; the loop still
# fails on any I/O error, pattern mismatch or non-zero exit.
(
  export QIO_ALLOW='Failed MODE_SENSE\(6\), LUN assumed writable'
  n=0
  while [ ! -f "$IT_DIR/io-stop" ]; do
    n=$((n + 1)); pat=$((n % 200 + 1))
    qio "iscsi://$H/$T/0" "write -P $pat 0 256k" "read -P $pat 0 256k" || echo "pass $n" >>"$IT_DIR/io-fail"
  done
) & IT_PIDS+=($!)

# A session logged in before the add: sees 3F/0E once on LUN 0, then 25/00
# on LUN 1 after the remove.
rm -f "$IT_DIR/ua-ready" "$IT_DIR/ua-go" "$IT_DIR/ua-go2" "$IT_DIR/ua-out"
py_iscsi 127.0.0.1 "$P" "
import os
D='$IT_DIR'
wait, asc = wait_file, sense_kcq
c = Conn(); login(c, 'iqn.2026-11.org.example:ua', '$T', isid=b'\x80\0\0\0\0\x09')
TUR = bytes(6)
scsi_cmd(c, TUR)                      # the login's 29/00
open(D + '/ua-ready', 'w').close(); wait(D + '/ua-go')
out = []
st, _, se = scsi_cmd1(c, TUR); out.append('first=%d %s' % (st, asc(se) if st == 2 else ''))
st, _, se = scsi_cmd1(c, TUR); out.append('second=%d' % st)
open(D + '/ua-go-ack', 'w').close(); wait(D + '/ua-go2')
st, _, se = scsi_cmd1(c, TUR, lun=1); out.append('lun1=%d %s' % (st, asc(se) if st == 2 else ''))
open(D + '/ua-out', 'w').write(' '.join(out) + '\n')
" >"$IT_DIR/py.log" 2>&1 & IT_PIDS+=($!)
PY_PID=$!
for _ in $(seq 100); do [ -f "$IT_DIR/ua-ready" ] && break; sleep 0.1; done

check "lun add LUN 1 (file, saved)" bash -c "'$CTL' -s '$SOCK' lun add $T 1 --backend file --path '$IT_DIR/l1.img' --size 32M --block-size 4096 --thin yes | grep -q 'saved to'"
touch "$IT_DIR/ua-go"
check "qemu-io reads 4 MiB of unwritten space on the 4096-byte thin LUN 1 (zeros, no QEMU abort)" qio "iscsi://$H/$T/1" "read -P 0 0 4M"
check "REPORT LUNS shows LUN 1" bash -c "timeout 20 iscsi-ls -s iscsi://$H 2>/dev/null | grep -q 'Lun:1 '"
check "lun add of an existing LUN refused (exit 1)" bash -c "'$CTL' -s '$SOCK' lun add $T 1 --backend memory --size 8M; test \$? = 1"
check "lun add thin without pool / volume refused with the parser's reason" bash -c "'$CTL' -s '$SOCK' lun add $T 2 --backend thin --size 8M 2>&1 | grep -q 'backend = thin needs'"
check "qemu-io write/read on LUN 1" qio "iscsi://$H/$T/1" "write -P 0x5a 0 1M" "read -P 0x5a 0 1M"
check "the file has [lun 1] and parses" bash -c "$(declare -f parses); KURA_TARGETD='$KURA_TARGETD' CONF='$CONF' parses && grep -q '^\[lun 1\]' '$CONF' && grep -q '^; comment' '$CONF'"

# reader loop on LUN 1 while it goes away
rm -f "$IT_DIR/rd-stop"
(
  while [ ! -f "$IT_DIR/rd-stop" ]; do
    if timeout 20 qemu-io -f raw -c "read 0 4M" "iscsi://$H/$T/1" >>"$IT_DIR/rd.log" 2>&1; then
      [ -f "$IT_DIR/rd-err" ] || echo ok >>"$IT_DIR/rd-ok"
    else
      echo err >>"$IT_DIR/rd-err"
    fi
  done
) & IT_PIDS+=($!)
sleep 2
check "lun remove LUN 1 under load" ctl lun remove "$T" 1
touch "$IT_DIR/ua-go2"
sleep 2; touch "$IT_DIR/rd-stop"
check "the reader loop read LUN 1 before the remove" test -s "$IT_DIR/rd-ok"
check "the reader loop saw errors after it" test -s "$IT_DIR/rd-err"
check "no qemu-io crashed (only clean errors)" bash -c "! grep -qiE 'assertion|core dumped' '$IT_DIR/rd.log'"
check "daemon alive" ctl list luns
check "LUN 1 gone from REPORT LUNS" bash -c "! timeout 20 iscsi-ls -s iscsi://$H 2>/dev/null | grep -q 'Lun:1 '"
wait "$PY_PID"
check "old session: 3F/0E once, then GOOD, then 25/00 on the removed LUN" \
  grep -q "first=2 (6, 63, 14) second=0 lun1=2 (5, 37, 0)" "$IT_DIR/ua-out"
check "the file lost [lun 1] and parses" bash -c "$(declare -f parses); KURA_TARGETD='$KURA_TARGETD' CONF='$CONF' parses && ! grep -q '^\[lun 1\]' '$CONF'"
check "lun remove of a missing LUN refused (exit 1)" bash -c "'$CTL' -s '$SOCK' lun remove $T 1; test \$? = 1"

# a PR registration protects the LUN unless --force
check "lun add LUN 2 (memory)" ctl lun add "$T" 2 --backend memory --size 8M
py_iscsi 127.0.0.1 "$P" "
c = Conn(); login(c, 'iqn.2026-11.org.example:pr', '$T')
st, _, _ = scsi_cmd(c, bytes([0x5F, 0, 0, 0, 0, 0, 0, 0, 24, 0]), lun=2, write_data=bytes(8) + (0x1234).to_bytes(8, 'big') + bytes(8))
assert st == 0, st
" >>"$IT_DIR/py.log" 2>&1
check "lun remove with a registration refused" bash -c "'$CTL' -s '$SOCK' lun remove $T 2 2>&1 | grep -q 'persistent reservation'"
check "lun remove --force" ctl lun remove "$T" 2 --force

check "lun add LUN 3 (kept over restart)" ctl lun add "$T" 3 --backend memory --size 8M
touch "$IT_DIR/io-stop"; sleep 3
check "LUN 0's loop never failed" test ! -s "$IT_DIR/io-fail"
check "kura-targetd exits 0" kura_stop
KURA_WAIT=$H kura_start -c "$CONF"
check "after restart: LUN 3 there, LUN 1 not" bash -c "out=\$(timeout 20 iscsi-ls -s iscsi://$H 2>/dev/null); echo \"\$out\" | grep -q 'Lun:3 ' && ! echo \"\$out\" | grep -q 'Lun:1 '"
check "kura-targetd exits 0 (after restart)" kura_stop

# embedded default: run-time only
KURA_IQN_DEF=$("$KURA_TARGETD" --print-default-config 2>/dev/null | sed -n 's/^\[target \(.*\)\]/\1/p' | head -1)
kura_start --listen "$H"
check "embedded: lun add says run-time only" bash -c "'$CTL' -s '$SOCK' lun add $KURA_IQN_DEF 7 --backend memory --size 8M | grep -q 'run-time only'"
check "kura-targetd exits 0 (embedded)" kura_stop
it_finish
