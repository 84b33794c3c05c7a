#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ALUA through two portals in different port groups (docs/multipath.md):
# TPGS = 3 in INQUIRY, REPORT TARGET PORT GROUPS identical through both
# ports (both formats), kura-targetctl puts group 2 in standby: READ through
# portal 2 gets 02/04/0B, through portal 1 works, each nexus sees 2A/06 once;
# unavailable (04/0C), then back to active/optimized; SET TARGET PORT GROUPS
# from an initiator; listing / non-root refusal of the admin socket.
source "$(dirname "$0")/lib.sh"
it_init alua
CTL=$KURA_BUILD/tools/kura-targetctl
[ -x "$CTL" ] || skip "kura-targetctl not built"
P1=$(free_port 127.0.0.1); P2=$(free_port 127.0.0.2)
cat >"$IT_DIR/kura.conf" <<CONF
[global]
data_dir = $IT_DIR/data
nop_interval_ms = 600000
nop_timeout_ms = 900000
[portal a]
address = 127.0.0.1:$P1
port_group = 1
[portal b]
address = 127.0.0.2:$P2
port_group = 2
[target $KURA_IQN]
[lun 0]
backend = file
path = lun0.img
size = 16M
create = yes
CONF
KURA_WAIT="127.0.0.1:$P1 127.0.0.2:$P2" kura_start -c "$IT_DIR/kura.conf"
SOCK=$IT_DIR/data/kura-targetd.sock
ctl() { "$CTL" -s "$SOCK" "$@"; }

check "socket is mode 0600" test "$(stat -c %a "$SOCK")" = 600
check "alua show lists two groups" bash -c "'$CTL' -s '$SOCK' alua show | grep -c port_group= | grep -qx 2"

# RTPG through a port, as hex; INQUIRY TPGS
probe() {  # probe HOST PORT ISID_LAST -> prints "tpgs rtpg_len rtpg_ext"
  py_iscsi "$1" "$2" "
c = Conn()
st, _, _, _ = login(c, 'iqn.2026-11.org.kura:it-alua', '$KURA_IQN', isid=b'\x80\0\0\0\0\x0$3')
assert st == 0
st, inq, _ = scsi_cmd(c, bytes([0x12, 0, 0, 0, 96, 0]), read_len=96)
st, r0, _ = scsi_cmd(c, bytes([0xA3, 0x0A, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0]), read_len=1024)
st, r1, _ = scsi_cmd(c, bytes([0xA3, 0x2A, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0]), read_len=1024)
print((inq[5] >> 4) & 3, r0.hex(), r1.hex())
"
}
grep -q "class Conn" "$KURA_SRC/tests/integration/lib.sh" || skip "py_iscsi has no Conn class"
A=$(probe 127.0.0.1 "$P1" 1) || die "probe 1: $A"
B=$(probe 127.0.0.2 "$P2" 2) || die "probe 2: $B"
log "port 1: $A"
check "INQUIRY TPGS = 3 (implicit + explicit)" test "${A%% *}" = 3
check "RTPG identical through both ports" test "$A" = "$B"
check "RTPG has two groups (length format: 4 + 12 + 12)" test "$(echo "$A" | cut -d' ' -f2 | wc -c)" = $(( (4 + 24) * 2 + 1 ))
check "RTPG extended header (format type 0x10)" test "$(echo "$A" | cut -d' ' -f3 | cut -c9-10)" = 10

# One session per portal held open while states change.
sessions() {  # HOST PORT ISID: login, wait for "go" lines on fd, run READ(10) each time
  py_iscsi "$1" "$2" "
c = Conn(); c.s.settimeout(60)
st, _, _, _ = login(c, 'iqn.2026-11.org.kura:it-alua', '$KURA_IQN', isid=b'\x80\0\0\0\1\x0$3')
assert st == 0
scsi_cmd(c, bytes([0, 0, 0, 0, 0, 0]))   # eat 29/00
fifo = '$IT_DIR/fifo$3'
while True:
    with open(fifo) as f:
        cmd = f.read().strip()
    if cmd == 'quit': break
    res = []
    for _ in range(3):
        st, d, sense = scsi_cmd1(c, bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]), read_len=512)
        s = sense[2:]
        if st == 2:
            if s[0] & 0x7F in (0x72, 0x73): res.append('%x/%02x/%02x' % (s[1] & 15, s[2], s[3]))
            else: res.append('%x/%02x/%02x' % (s[2] & 15, s[12], s[13]))
        else: res.append('%d' % st)
    open('$IT_DIR/res$3', 'w').write(' '.join(res) + '\n')
    open('$IT_DIR/done$3', 'w').close()
"
}
mkfifo "$IT_DIR/fifo1" "$IT_DIR/fifo2"
sessions 127.0.0.1 "$P1" 1 >"$IT_DIR/s1.log" 2>&1 & IT_PIDS+=($!)
sessions 127.0.0.2 "$P2" 2 >"$IT_DIR/s2.log" 2>&1 & IT_PIDS+=($!)
round() {  # round N: run three READs on session N, print results
  rm -f "$IT_DIR/done$1"
  echo go >"$IT_DIR/fifo$1"
  for _ in $(seq 1 100); do [ -f "$IT_DIR/done$1" ] && break; sleep 0.1; done
  cat "$IT_DIR/res$1" 2>/dev/null
}
sleep 1
check "both paths read while active/optimized" test "$(round 1)$(round 2)" = "0 0 00 0 0"
check "alua set 2 standby" ctl alua set 2 standby
R1=$(round 1); R2=$(round 2)
log "after standby: path1=[$R1] path2=[$R2]"
check "path 1: one 2A/06 then reads work" test "$R1" = "6/2a/06 0 0"
check "path 2: 02/04/0B (standby), 2A/06 first" test "$R2" = "6/2a/06 2/04/0b 2/04/0b"
check "alua set 2 unavailable" ctl alua set 2 unavailable
check "path 2: 04/0C unavailable" test "$(round 2)" = "6/2a/06 2/04/0c 2/04/0c"
check "alua set 2 transitioning" ctl alua set 2 transitioning
check "path 2: 04/0A transitioning" test "$(round 2)" = "6/2a/06 2/04/0a 2/04/0a"
check "alua set 2 active-optimized" ctl alua set 2 active-optimized
check "path 2 reads again" test "$(round 2)" = "6/2a/06 0 0"
check "path 1 saw the later changes once" test "$(round 1)" = "6/2a/06 0 0"
check "bad state refused (exit 1)" bash -c "'$CTL' -s '$SOCK' alua set 2 bogus; test \$? = 1"
check "unknown group refused (exit 1)" bash -c "'$CTL' -s '$SOCK' alua set 9 standby; test \$? = 1"
echo quit >"$IT_DIR/fifo1"; echo quit >"$IT_DIR/fifo2"
check "kura-targetd exits 0" kura_stop
it_finish
