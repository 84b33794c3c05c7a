#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kura-targetctl thin volume administration through the real daemon and real
# clients: `volume create` + `lun add --backend thin` at run time, a qemu-io
# pattern, `snapshot create` / `clone create` (timed), the clone exported
# reads the pattern, the origin overwritten while the read-only snapshot
# keeps the old one; `volume resize` online => qemu-img info and READ
# CAPACITY(16) see the new size and a session that stayed logged in gets
# UNIT ATTENTION 2A/09 CAPACITY DATA HAS CHANGED; refusals (shrink or delete
# while exported, unknown ids, a pool on RAID that cannot grow) exit 1 with
# ERR; a write into the full pool fails with 7/27/07 and succeeds after
# `pool grow`; `raid add-spare` lands in the [raid] spares key; `raid
# create` + `pool create` (on the new array, and on a file) at run time
# carry an exported volume; a restart keeps every change; `lun remove` +
# `volume delete` give chunks back.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
it_init targetctl_volumes
need_cmd qemu-io qemu-img iscsi-ls python3
CTL=$KURA_BUILD/tools/kura-targetctl
[ -x "$CTL" ] || skip "kura-targetctl not built"

P=$(free_port)
H=127.0.0.1:$P
T=iqn.2026-11.org.kura:volumes
CONF=$IT_DIR/kura.conf
D=$IT_DIR/data
cat >"$CONF" <<CONF
; a comment that must survive every edit
[global]
log_level = info
[portal main]
address = $H
[raid r1]
level = 1
members = r1a.img, r1b.img
member_size = 16M
create = yes
[pool q]
data = r1
meta = q.meta
[pool p]
; 16 MiB of data: 256 chunks of 64 KiB
data = p.data
size = 16M
meta = p.meta
[target $T]
[lun 0]
backend = memory
size = 8M
CONF
KURA_WAIT=$H kura_start -c "$CONF"
SOCK=$D/kura-targetd.sock
ctl() { "$CTL" -s "$SOCK" "$@"; }
# refused WORDS...: the request exits 1 and says ERR (kura-targetctl prints it on stderr)
refused() {
  local out rc
  out=$("$CTL" -s "$SOCK" "$@" 2>&1); rc=$?
  log "refused? $*: rc=$rc $out"
  [ $rc = 1 ] && [ -n "$out" ]
}
# pyq EXPR: evaluate EXPR on the JSON read from stdin (as j)
pyq() { python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }
vols() { ctl volume list p --json; }
used() { ctl pool status p --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["chunks"]["used"])'; }
U() { echo "iscsi://$H/$T/$1"; }
# qemu-io read-only (a snapshot LU is write-protected: qemu refuses it read-write)
qior() {
  local out
  out=$(timeout 60 qemu-io -r -f raw -c "$2" "$(U "$1")" 2>&1); local rc=$?
  echo "$out" >>"$IT_DIR/qemu-io.log"
  [ $rc = 0 ] && ! grep -qiE "fail|error|mismatch|verification" <<<"$out"
}
parses() { "$KURA_TARGETD" --check-config -c "$CONF" >/dev/null; }

# ---- create, export, write
check "volume create p 1 --size 32M" ctl volume create p 1 --size 32M
check "volume create of an existing id refused" refused volume create p 1 --size 8M
check "volume create with a size not a multiple of 4096 refused" refused volume create p 7 --size 1000
check "volume create in an unknown pool refused" refused volume create nosuch 1 --size 8M
check "lun add LUN 1 = thin p/1 (saved)" bash -c "'$CTL' -s '$SOCK' lun add $T 1 --backend thin --pool p --volume 1 | grep -q 'saved to'"
check "lun add of a missing volume refused" refused lun add "$T" 5 --backend thin --pool p --volume 99
check "lun add of a volume already exported refused" refused lun add "$T" 5 --backend thin --pool p --volume 1
check "the file has [lun 1] backend = thin and parses" bash -c "$(declare -f parses); KURA_TARGETD='$KURA_TARGETD' CONF='$CONF' parses && grep -q '^backend = thin' '$CONF'"
check "qemu-io writes the pattern 0x5a on LUN 1" qio "$(U 1)" "write -P 0x5a 0 4M"
check "volume list: 64 chunks mapped, exported as $T:1" bash -c "$(declare -f ctl vols pyq); CTL='$CTL' SOCK='$SOCK'; vols | pyq \"j[0]['id']==1 and j[0]['mapped_chunks']==64 and j[0]['mapped_bytes']==4<<20 and j[0]['exported']==[{'target':'$T','lun':1}]\""

# ---- snapshot, clone
out=$(ctl snapshot create p 1 2); log "$out"
check "snapshot create p 1 2 reports its duration" grep -qE "^snapshot 2 of volume 1 taken in [0-9.]+ ms" <<<"$out"
out=$(ctl clone create p 1 3); log "$out"
check "clone create p 1 3 reports its duration" grep -qE "^clone 3 of volume 1 cloned in [0-9.]+ ms" <<<"$out"
check "clone create --json has ms" bash -c "'$CTL' -s '$SOCK' clone create p 1 4 --json | python3 -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if j[\"kind\"]==\"clone\" and j[\"ms\"]>=0 else 1)'"
check "volume delete p 4 (never exported)" ctl volume delete p 4
check "snapshot of a missing origin refused" refused snapshot create p 42 5
check "snapshot onto an existing id refused" refused snapshot create p 1 3
check "volume list: kinds and origins" bash -c "$(declare -f ctl vols pyq); CTL='$CTL' SOCK='$SOCK'; vols | pyq \"[(v['id'],v['kind'],v['origin']) for v in j]==[(1,'volume',None),(2,'snapshot',1),(3,'clone',1)] and j[1]['read_only']\""
check "lun add LUN 2 = the clone" ctl lun add "$T" 2 --backend thin --pool p --volume 3
check "the clone reads the pattern" qio "$(U 2)" "read -P 0x5a 0 4M"
check "qemu-io overwrites the origin with 0x77" qio "$(U 1)" "write -P 0x77 0 4M"
check "lun add LUN 3 = the snapshot, --read-only" ctl lun add "$T" 3 --backend thin --pool p --volume 2 --read-only
check "the snapshot still reads the old pattern" qior 3 "read -P 0x5a 0 4M"
check "the snapshot LU is write-protected (qemu refuses it read-write)" bash -c "! timeout 60 qemu-io -f raw -c 'write -P 1 0 4k' '$(U 3)' >/dev/null 2>&1"
check "the origin reads the new pattern" qio "$(U 1)" "read -P 0x77 0 4M"
check "the clone still reads the old pattern" qio "$(U 2)" "read -P 0x5a 0 4M"

# ---- online resize: a session that stays logged in sees 2A/09
rm -f "$IT_DIR/ua-ready" "$IT_DIR/ua-go" "$IT_DIR/ua-out"
py_iscsi 127.0.0.1 "$P" "
D='$IT_DIR'
wait, asc = wait_file, sense_kcq
RC16 = bytes([0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0])
c = Conn(); login(c, 'iqn.2026-11.org.example:resize', '$T', isid=b'\x80\0\0\0\0\x0b')
st, d, _ = scsi_cmd(c, RC16, lun=1, read_len=32)
before = struct.unpack('>Q', d[:8])[0] + 1
open(D + '/ua-ready', 'w').close(); wait(D + '/ua-go')
st, _, se = scsi_cmd1(c, bytes(6), lun=1)
ua = asc(se) if st == 2 else None
st, d, _ = scsi_cmd1(c, RC16, lun=1, read_len=32)
after = struct.unpack('>Q', d[:8])[0] + 1
open(D + '/ua-out', 'w').write('before=%d ua=%s after=%d\n' % (before, ua, after))
" >"$IT_DIR/py.log" 2>&1 & IT_PIDS+=($!)
PY_PID=$!
for _ in $(seq 100); do [ -f "$IT_DIR/ua-ready" ] && break; sleep 0.1; done
check "shrinking an exported volume refused" refused volume resize p 1 --size 16M
out=$(ctl volume resize p 1 --size 48M); log "$out"
check "volume resize p 1 --size 48M (online)" grep -q "resized from 33554432 to 50331648 bytes; 1 exported" <<<"$out"
touch "$IT_DIR/ua-go"; wait "$PY_PID"
log "session: $(cat "$IT_DIR/ua-out" 2>/dev/null) $(tail -2 "$IT_DIR/py.log")"
check "the logged-in session: 2A/09 CAPACITY DATA HAS CHANGED, then READ CAPACITY(16) 48 MiB" \
  grep -q "before=65536 ua=(6, 42, 9) after=98304" "$IT_DIR/ua-out"
check "qemu-img info sees 48 MiB" bash -c "timeout 60 qemu-img info '$(U 1)' | grep -q '(50331648 bytes)'"
check "the grown volume keeps its data and writes past the old end" qio "$(U 1)" "read -P 0x77 0 4M" "write -P 0x44 40M 1M" "read -P 0x44 40M 1M"

# ---- refusals
check "deleting an exported volume refused (says lun remove)" bash -c "'$CTL' -s '$SOCK' volume delete p 1 2>&1 | grep -q 'lun remove it first'"
check "deleting a missing volume refused" refused volume delete p 99
check "pool grow of a pool on RAID refused (no reshape)" bash -c "'$CTL' -s '$SOCK' pool grow q --size 64M 2>&1 | grep -q 'no reshape'; test \${PIPESTATUS[0]} = 1"
check "volume requests to a pool on RAID work" ctl volume list q
check "a bad volume id refused" refused volume delete p -1

# ---- full pool: 27/07, then pool grow and the same write succeeds
py_iscsi 127.0.0.1 "$P" "
def asc(seg):
    s = seg[2:]
    if s and (s[0] & 0x7F) in (0x72, 0x73): return (s[1] & 0xF, s[2], s[3])
    return (s[2] & 0xF, s[12], s[13])
c = Conn(); login(c, 'iqn.2026-11.org.example:fill', '$T', isid=b'\x80\0\0\0\0\x0c')
data = b'\x33' * 65536
lba = 8 << 11                         # 8 MiB into the clone (LUN 2): unmapped
res = None
while lba < (32 << 11):
    cdb = bytes([0x2A, 0]) + lba.to_bytes(4, 'big') + bytes([0, 0, 128, 0])
    st, _, se = scsi_cmd(c, cdb, lun=2, write_data=data)
    if st != 0:
        res = (st, asc(se)); break
    lba += 128
open('$IT_DIR/fill-lba', 'w').write('%d\n' % lba)
print('fill: stopped at lba', lba, 'with', res)
assert res == (2, (7, 0x27, 7)), res
" >"$IT_DIR/fill.log" 2>&1
log "$(cat "$IT_DIR/fill.log" | tail -2)"
check "a write into the full pool fails with 7/27/07 SPACE ALLOCATION FAILED WRITE PROTECT" grep -q "with (2, (7, 39, 7))" "$IT_DIR/fill.log"
check "pool status: no free chunk" bash -c "'$CTL' -s '$SOCK' pool status p --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"chunks\"][\"free\"]==0 else 1)'"
out=$(ctl pool grow p --size 48M); log "$out"
check "pool grow p --size 48M" grep -q "pool p grown from 16777216 to 50331648 bytes" <<<"$out"
check "pool grow to a smaller size refused" refused pool grow p --size 32M
check "the [pool p] size key is 50331648 and the file parses" bash -c "$(declare -f parses); KURA_TARGETD='$KURA_TARGETD' CONF='$CONF' parses && grep -q '^size = 50331648' '$CONF'"
py_iscsi 127.0.0.1 "$P" "
c = Conn(); login(c, 'iqn.2026-11.org.example:fill', '$T', isid=b'\x80\0\0\0\0\x0d')
lba = int(open('$IT_DIR/fill-lba').read())
cdb = bytes([0x2A, 0]) + lba.to_bytes(4, 'big') + bytes([0, 0, 128, 0])
st, _, se = scsi_cmd(c, cdb, lun=2, write_data=b'\x33' * 65536)
print('retry status', st)
assert st == 0, se
" >>"$IT_DIR/fill.log" 2>&1
check "the write that failed succeeds after the grow" grep -q "retry status 0" "$IT_DIR/fill.log"
check "qemu-io writes more into the grown pool" qio "$(U 2)" "write -P 0x66 24M 4M" "read -P 0x66 24M 4M"

# ---- raid add-spare is saved
check "raid add-spare r1 s1.img" ctl raid add-spare r1 s1.img
check "[raid r1] got spares = s1.img" grep -q '^spares = s1.img' "$CONF"

# ---- new storage at run time
out=$(ctl raid create r5 --level 5 --members r5a.img,r5b.img,r5c.img --member-size 16M); log "$out"
check "raid create r5 (raid5 over 3 new files)" grep -q "raid r5 created" <<<"$out"
check "raid status r5: clean, 3 active members" bash -c "'$CTL' -s '$SOCK' raid status r5 --json | python3 -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if j[\"level\"]==5 and [m[\"state\"] for m in j[\"members\"]]==[\"active\"]*3 else 1)'"
check "raid create over an existing member file refused" refused raid create r9 --level 1 --members r5a.img,new.img --member-size 16M
check "raid create with a bad level refused (the parser's reason)" bash -c "'$CTL' -s '$SOCK' raid create r9 --level 7 --members x.img,y.img --member-size 16M 2>&1 | grep -q 'would not parse'"
check "raid create of an existing name refused" refused raid create r1 --level 1 --members x.img,y.img --member-size 16M
check "pool create p5 --raid r5" ctl pool create p5 --raid r5
check "a second pool on r5 refused" refused pool create p6 --raid r5
check "pool create of an existing name refused" refused pool create p --path other.data --size 8M
check "pool create without --size for a missing file refused" refused pool create p7 --path p7.data
check "pool create pf --path pf.data --size 8M --chunk-size 128K" ctl pool create pf --path pf.data --size 8M --chunk-size 128K
check "pool status pf: 64 chunks of 128 KiB" bash -c "'$CTL' -s '$SOCK' pool status pf --json | python3 -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if j[\"chunk_size\"]==131072 and j[\"chunks\"][\"total\"]==64 else 1)'"
check "volume create p5 1 + lun add LUN 4" bash -c "'$CTL' -s '$SOCK' volume create p5 1 --size 24M && '$CTL' -s '$SOCK' lun add $T 4 --backend thin --pool p5 --volume 1"
check "qemu-io on the thin LUN over the new RAID-5" qio "$(U 4)" "write -P 0x55 0 4M" "read -P 0x55 0 4M"
check "the file has [raid r5], [pool p5], [pool pf] and parses" bash -c "$(declare -f parses); KURA_TARGETD='$KURA_TARGETD' CONF='$CONF' parses && grep -q '^\[raid r5\]' '$CONF' && grep -q '^\[pool p5\]' '$CONF' && grep -q '^\[pool pf\]' '$CONF'"

# ---- restart keeps everything
check "kura-targetd exits 0" kura_stop
check "the comment survived" grep -q '^; a comment that must survive' "$CONF"
KURA_WAIT=$H kura_start -c "$CONF"
check "after restart: LUNs 1, 2, 3 exported" bash -c "out=\$(timeout 20 iscsi-ls -s iscsi://$H 2>/dev/null); for l in 1 2 3; do echo \"\$out\" | grep -q \"Lun:\$l \" || exit 1; done"
check "after restart: volumes, kinds and sizes kept" bash -c "$(declare -f ctl vols pyq); CTL='$CTL' SOCK='$SOCK'; vols | pyq \"[(v['id'],v['kind'],v['size']) for v in j]==[(1,'volume',48<<20),(2,'snapshot',32<<20),(3,'clone',32<<20)]\""
check "after restart: the pool has 768 chunks" bash -c "'$CTL' -s '$SOCK' pool status p --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"chunks\"][\"total\"]==768 else 1)'"
check "after restart: r5, p5 and pf are there, LUN 4 reads its pattern" bash -c "'$CTL' -s '$SOCK' raid status r5 >/dev/null && '$CTL' -s '$SOCK' pool status p5 >/dev/null && '$CTL' -s '$SOCK' pool status pf >/dev/null && $(declare -f qio U); H='$H' T='$T' IT_DIR='$IT_DIR'; qio \$(U 4) 'read -P 0x55 0 4M'"
check "after restart: r1 has its spare" bash -c "'$CTL' -s '$SOCK' raid status r1 --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"spares\"]==1 else 1)'"
check "after restart: origin, clone and snapshot contents" bash -c "$(declare -f qio qior U); H='$H' T='$T' IT_DIR='$IT_DIR'; qio \$(U 1) 'read -P 0x77 0 4M' && qio \$(U 2) 'read -P 0x5a 0 4M' && qio \$(U 2) 'read -P 0x66 24M 4M' && qior 3 'read -P 0x5a 0 4M'"

# ---- remove the exports, delete, space comes back
u0=$(used)
check "lun remove LUN 2 (the clone)" ctl lun remove "$T" 2
check "volume delete p 3 (the clone)" ctl volume delete p 3
u1=$(used); log "used chunks: $u0 -> $u1"
check "deleting the clone returned its chunks" test "$u1" -lt "$u0"
check "lun remove LUN 3 (the snapshot)" ctl lun remove "$T" 3
check "volume delete p 2 (the snapshot)" ctl volume delete p 2
u2=$(used); log "used chunks: $u1 -> $u2"
check "deleting the snapshot returned the old pattern's 64 chunks" test "$u2" -eq $((u1 - 64))
check "the origin still reads its data" qio "$(U 1)" "read -P 0x77 0 4M"
check "volume list has only volume 1" bash -c "$(declare -f ctl vols pyq); CTL='$CTL' SOCK='$SOCK'; vols | pyq \"[v['id'] for v in j]==[1]\""
check "the file lost [lun 2] and [lun 3] and parses" bash -c "$(declare -f parses); KURA_TARGETD='$KURA_TARGETD' CONF='$CONF' parses && ! grep -qE '^\[lun (2|3)\]' '$CONF'"
check "kura-targetd exits 0 (after restart)" kura_stop
KURA_WAIT=$H kura_start -c "$CONF"
check "second restart: deletions kept" bash -c "$(declare -f ctl vols pyq); CTL='$CTL' SOCK='$SOCK'; vols | pyq \"[v['id'] for v in j]==[1]\""
check "kura-targetd exits 0 (second restart)" kura_stop
it_finish
