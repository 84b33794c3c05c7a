#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kura-mpathpersist (issue 12 item 4): mpathpersist's command line acting on
# a LU of kura-initiatord through the daemon's own paths. One kura-targetd
# with two portals; two "hosts" (two kura-initiatord with different
# initiator names, each logged in on both portals, so each has two I_T
# nexuses to the one LU). The target's view is read with a separate
# libiscsi client (kura-it-client_pr status: one name=key[*type] per
# registration).
#  - register through the device: the key is on both of the host's I_T nexuses
#  - read keys / reservation / full status in mpathpersist's layout, by
#    device path (FUSE file or NBD socket), alias link, by-id / by-path
#    link, a link of our own, WWID
#  - reserve type 5, a conflicting reserve from the other host (exit 11),
#    preempt by the other host, a stale REGISTER (exit 11), release
#  - type 7, preempt-abort (the victim's writes through its device fail),
#    clear; batch file; unknown device (12), not a LU (13), syntax (1)
# Skips (77) without kura-initiatord or the PR client.
source "$(dirname "$0")/lib.sh"
it_init initiator-mpathpersist
INID=$KURA_BUILD/initiator/kura-initiatord
MPP=$KURA_BUILD/initiator/kura-mpathpersist
[ -x "$INID" ] || skip "kura-initiatord not built ($INID)"
[ -x "$MPP" ] || skip "kura-mpathpersist not built ($MPP)"
PRC=$(need_client pr)
need_cmd python3 qemu-io

P1=$(free_port); P2=$(free_port)
T=iqn.2026-11.org.kura:mpp
HA=iqn.2026-11.org.kura:mpp-host-a HB=iqn.2026-11.org.kura:mpp-host-b
cat >"$IT_DIR/kura.conf" <<CONF
[portal one]
address = 127.0.0.1:$P1
tpgt = 1
[portal two]
address = 127.0.0.1:$P2
tpgt = 2
[target $T]
[lun 0]
backend = file
path = mpp.img
size = 16M
create = yes
CONF
KURA_WAIT="127.0.0.1:$P1 127.0.0.1:$P2" kura_start -c "$IT_DIR/kura.conf"
URL=iscsi://127.0.0.1:$P1/$T/0

FUSE_OK=""
[ -e /dev/fuse ] && FUSE_OK=1
start_host() {  # start_host NAME IQN: a daemon with its own socket and devices
  local extra=()
  [ -n "$FUSE_OK" ] && extra=(--fuse-dir "$IT_DIR/$1/lu")
  mkdir -p "$IT_DIR/$1"
  "$INID" --root "$IT_DIR/$1/iscsi" --initiator-name "$2" --ctl-sock "$IT_DIR/$1/ctl.sock" \
    --nbd-dir "$IT_DIR/$1/nbd" --disk-dir "$IT_DIR/$1/disk" "${extra[@]}" --log-level info \
    --login "127.0.0.1:$P1,$T" --login "127.0.0.1:$P2,$T" >"$IT_DIR/$1/ini.log" 2>&1 &
  IT_PIDS+=("$!")
}
fini() {
  for h in a b; do fusermount3 -u "$IT_DIR/$h/lu" 2>/dev/null || umount -l "$IT_DIR/$h/lu" 2>/dev/null; done
  it_cleanup
}
trap fini EXIT
it_dump_extra() { for h in a b; do echo "---- host $h ----"; tail -n 20 "$IT_DIR/$h/ini.log"; done; }
start_host a "$HA"; start_host b "$HB"
both_up() { [ "$(grep -c 'up (1 LUN)' "$IT_DIR/$1/ini.log")" = 2 ]; }
for _ in $(seq 1 300); do both_up a && both_up b && break; sleep 0.1; done
both_up a && both_up b || die "the two hosts did not get both paths up"

W=$(basename "$(ls "$IT_DIR"/a/nbd/naa.*.sock | head -1)" .sock)
DEV_A=$IT_DIR/a/nbd/$W.sock
[ -n "$FUSE_OK" ] && DEV_A=$IT_DIR/a/lu/$W
ALIAS_B=$IT_DIR/b/nbd/$T-lun0.sock
BYPATH_B=$IT_DIR/b/disk/by-path/ip-127.0.0.1:$P2-iscsi-$T-lun-0.sock
BYID_B=$IT_DIR/b/disk/by-id/wwn-$W.sock
log "LU $W; host a's device $DEV_A"
mpa() { "$MPP" --ctl "$IT_DIR/a/ctl.sock" "$@"; }
mpb() { "$MPP" --ctl "$IT_DIR/b/ctl.sock" "$@"; }
state() { "$PRC" status "$URL"; }
# regs NAME KEY[*TYPE]: how many registrations of NAME with that key the target has
regs() { state | tr ',' '\n' | grep -cx "$1=$2"; }
has() { grep -qF -- "$2" <<<"$1" || { echo "expected '$2' in:"; echo "$1"; return 1; }; }
rc_is() { local want=$1; shift; "$@" >"$IT_DIR/out" 2>&1; local rc=$?; [ $rc = "$want" ] || { echo "exit $rc, wanted $want:"; cat "$IT_DIR/out"; return 1; }; }

# ---- nothing registered yet --------------------------------------------------
out=$(mpa -i -k "$DEV_A")
check "read keys, none: mpathpersist's line" has "$out" "registered reservation key."
check "read keys, none: 0 keys" has "$out" "0 registered reservation key"

# ---- register through the device: on both I_T nexuses -------------------------
check "host a: --out --register --param-sark=123abc DEVICE exits 0" rc_is 0 mpa --out --register --param-sark=123abc "$DEV_A"
check "the key is on both of host a's I_T nexuses" test "$(regs "$HA" 123abc)" = 2
out=$(mpa --in --read-keys "$T-lun0")
check "read keys by alias: 2 keys follow" has "$out" "2 registered reservation keys follow:"
check "read keys: the key printed as mpathpersist does" test "$(grep -cx '    0x123abc' <<<"$out")" = 2
ln -s "$DEV_A" "$IT_DIR/my-link"
check "read keys through any link to the device" has "$(mpa -i -k "$IT_DIR/my-link")" "2 registered reservation keys follow:"
out=$(mpa -i -s "$W")
check "full status by WWID: two iSCSI port ids of host a" test "$(grep -c "world wide unique port id: $HA,i,0x" <<<"$out")" = 2
check "full status: not reservation holder" has "$out" "      not reservation holder"

# ---- reserve type 5 ----------------------------------------------------------
check "host a: --reserve --prout-type=5 exits 0" rc_is 0 mpa --out --reserve --param-rk=123abc --prout-type=5 "$DEV_A"
out=$(mpa -i -r "$DEV_A")
check "read reservation: key" has "$out" "   Key = 0x123abc"
check "read reservation: type 5" has "$out" "  scope = LU_SCOPE, type = Write Exclusive, registrants only"
check "target: one of host a's nexuses holds type 5" test "$(regs "$HA" '123abc\*5')" = 1

# ---- the second host ---------------------------------------------------------
check "host b: register-ignore key b0b by alias link exits 0" rc_is 0 mpb --out --register-ignore --param-sark=b0b "$ALIAS_B"
check "host b's key on both its I_T nexuses" test "$(regs "$HB" b0b)" = 2
check "host b: --reserve while a holds it exits 11 (MPATH_PR_RESERV_CONFLICT)" rc_is 11 mpb --out --reserve --param-rk=b0b --prout-type=5 "$ALIAS_B"
check "... and prints mpathpersist's conflict lines" has "$(cat "$IT_DIR/out")" "persistent reserve out: scsi status: Reservation Conflict"
check "host b: --release of a's reservation exits 11 (held by another nexus)" rc_is 11 mpb --out --release --param-rk=b0b --prout-type=5 "$W"
check "host b: --preempt of a's key through a by-path link exits 0" rc_is 0 mpb --out --preempt --param-rk=b0b --param-sark=123abc --prout-type=5 "$BYPATH_B"
check "host a's registrations are gone" test "$(regs "$HA" 123abc)" = 0
check "host b holds type 5 now" test "$(regs "$HB" 'b0b\*5')" = 1
check "host a: --register with its old key exits 11 (no longer registered)" rc_is 11 mpa --out --register --param-rk=123abc --param-sark=456 "$DEV_A"
check "host b: --release exits 0 (release on every path, then none held)" rc_is 0 mpb --out --release --param-rk=b0b --prout-type=5 "$ALIAS_B"
check "no reservation left (read through a by-id link)" has "$(mpb -i -r "$BYID_B")" "there is NO reservation held"

# ---- type 7 and preempt-abort --------------------------------------------------
check "host a: register-ignore a11" rc_is 0 mpa --out --register-ignore --param-sark=a11 "$DEV_A"
check "host a: --reserve --prout-type=7" rc_is 0 mpa --out --reserve --param-rk=a11 --prout-type=7 "$DEV_A"
out=$(mpb -i -s "$W")
check "full status: all 4 registrations hold the all-registrants reservation" test "$(grep -c '<< Reservation holder >>' <<<"$out")" = 4
check "full status: type 7 line" has "$out" "      scope: LU_SCOPE,  type: Write Exclusive, all registrants"
NBDA=$IT_DIR/a/nbd/$W.sock
check "host a can write while registered" qemu-io -f raw -c "write -P 0x5a 0 64k" "nbd+unix:///?socket=$NBDA"
check "host b: --preempt-abort of a11 exits 0" rc_is 0 mpb --out --preempt-abort --param-rk=b0b --param-sark=a11 --prout-type=7 "$W"
check "host a's registrations are gone after preempt-abort" test "$(regs "$HA" a11)" = 0
out=$(qemu-io -f raw -c "write -P 0x5b 0 64k" -c "read -P 0x5a 0 64k" "nbd+unix:///?socket=$NBDA" 2>&1)
log "host a's write after preempt-abort: $(tr '\n' ' ' <<<"$out")"
check "host a's write through its device is refused now (Write Exclusive)" has "$out" "write failed"
check "... and its data unchanged (reads are allowed)" has "$out" "read 65536/65536"

# ---- clear, batch file ----------------------------------------------------------
check "host b: --clear exits 0" rc_is 0 mpb -oCK b0b "$W"
check "target: no registrations left" test "$(state)" = "-"
cat >"$IT_DIR/batch" <<EOF
# a batch file as mpathpersist(8) describes it
--out --register-ignore -S beef $W  # comment
mpathpersist --out --param-rk beef --reserve --prout-type 5 -d $W
-ir $W
EOF
check "batch file exits 0" rc_is 0 mpa -f "$IT_DIR/batch"
check "batch file: the reservation shows" has "$(cat "$IT_DIR/out")" "   Key = 0xbeef"
check "batch file: key on both nexuses, one holder" test "$(regs "$HA" beef)-$(regs "$HA" 'beef\*5')" = "1-1"
mpa -oCK beef "$W" >/dev/null

# ---- errors ----------------------------------------------------------------------
check "unknown device path exits 12 (MPATH_PR_FILE_ERROR)" rc_is 12 mpa -i -k "$IT_DIR/no-such-device"
check "... with mpathpersist's message" has "$(cat "$IT_DIR/out")" "error opening file"
check "a file that is no LU exits 13 (MPATH_PR_DMMP_ERROR)" rc_is 13 mpa -i -k "$IT_DIR/kura.conf"
check "no daemon on the socket exits 13" rc_is 13 "$MPP" --ctl "$IT_DIR/none.sock" -i -k "$W"
check "neither --in nor --out exits 1" rc_is 1 mpa -k "$W"
check "two PR OUT actions exit 1" rc_is 1 mpa --out --register --reserve "$W"
check "--help exits 0 and prints the usage" rc_is 0 mpa --help
check "--help names --param-sark" has "$(cat "$IT_DIR/out")" "--param-sark"
it_finish
