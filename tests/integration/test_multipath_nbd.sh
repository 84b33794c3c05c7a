#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kura-initiatord NBD front end while a path fails: one kura-targetd in a
# network namespace with two portals on two veth pairs; kura-initiatord
# exports the multipath LU on a Unix socket; `qemu-img info` and `qemu-io`
# (QEMU's own NBD client, no kernel nbd module) read and write with
# pattern verification while the active path is cut and restored.
# Exit 77 with the reason when netns, qemu-img or qemu-io is unavailable.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mp_lib.sh"
it_init multipath_nbd
INID=${KURA_INITIATORD:-$KURA_BUILD/initiator/kura-initiatord}
[ -x "$INID" ] || skip "kura-initiatord not built ($INID)"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
need_cmd ip python3 qemu-img qemu-io
CYCLES=${KURA_MP_CYCLES:-4}
NPR=6                                   # no_path_retry seconds

NS=knb$$
SUB=$((20 + RANDOM % 200))
HA=vnba$$; TA=vnbA$$; HB=vnbb$$; TB=vnbB$$
ADDR_A=10.$SUB.1.2; ADDR_B=10.$SUB.2.2
INI_PID=""; LOOP=""; MNT=$IT_DIR/lu
mp_cleanup() {
  [ -n "$WRITER_PID" ] && kill -9 "$WRITER_PID" 2>/dev/null
  [ -n "$INI_PID" ] && kill -9 "$INI_PID" 2>/dev/null
  ip link del "$HA" 2>/dev/null; ip link del "$HB" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  it_cleanup
}
trap mp_cleanup EXIT

mp_setup

NBD=$IT_DIR/nbd
"$INID" --root "$ROOT" --ctl-sock "$CTL" --nbd-dir "$NBD" --no-path-retry 20 --retry-max 1 \
  >"$IT_DIR/initiatord.log" 2>&1 &
INI_PID=$!
wait_for 20 test -S "$CTL" || die "initiatord did not create its control socket"
check "both paths log in" wait_for 20 n_up_is 2
SOCK=$(ls "$NBD"/naa.*.sock 2>/dev/null | head -1)
check "one NBD socket per LU" test -S "$SOCK"
check "alias socket by target+LUN" test -L "$NBD/$KURA_IQN-lun0.sock"
URL="nbd+unix:///?socket=$SOCK"
qemu-img info "$URL" >"$IT_DIR/info.txt" 2>&1
check "qemu-img info sees the LU size" grep -q "536870912 bytes" "$IT_DIR/info.txt"
nq() { timeout 120 qemu-io -f raw "$@" "$URL" >>"$IT_DIR/qemu-io.log" 2>&1 && ! grep -qiE "fail|error|mismatch" "$IT_DIR/qemu-io.log"; }
check "qemu-io write/read/zero/discard/flush/FUA over NBD" nq -c "write -P 0x5a 0 4M" -c "read -P 0x5a 0 4M" \
  -c "write -z 4M 1M" -c "read -P 0 4M 1M" -c "discard 8M 1M" -c "flush" -c "write -f -P 0x33 12M 64k" -c "read -P 0x33 12M 64k"

# qemu-io loop in the background: write then verify 1 MiB at a time.
cat >"$IT_DIR/loop.sh" <<EOS
i=0
while [ ! -e "$IT_DIR/stop" ]; do
  p=\$(( (i % 200) + 16 )); off=\$(( (i % 100) * 1048576 + 16777216 ))
  out=\$(timeout 120 qemu-io -f raw -c "write -P \$p \$off 1M" -c "read -P \$p \$off 1M" "$URL" 2>&1)
  if [ \$? -ne 0 ] || echo "\$out" | grep -qiE "fail|error|mismatch"; then echo "ERROR at \$i: \$out"; fi
  i=\$((i + 1))
done
echo "rounds=\$i"
EOS
rm -f "$IT_DIR/stop"
bash "$IT_DIR/loop.sh" >"$IT_DIR/loop.out" 2>&1 &
WRITER_PID=$!
sleep 2
for c in $(seq 1 "$CYCLES"); do
  act=$(active_addr); dev=$HA; [ "$act" = "$ADDR_B" ] && dev=$HB
  t0=$(now_ms)
  ip link set "$dev" down
  wait_for 10 path_not_up "$act"
  log "cycle $c: active path $act cut, declared down after $(( $(now_ms) - t0 )) ms"
  sleep 2
  ip link set "$dev" up
  wait_for 20 n_up_is 2 || log "path did not come back"
  sleep 1
done
touch "$IT_DIR/stop"; wait "$WRITER_PID"; WRITER_PID=""
cat "$IT_DIR/loop.out" | tail -3
check "qemu-io write+verify over NBD through $CYCLES path cuts: no error" bash -c "! grep -q ERROR '$IT_DIR/loop.out' && grep -q rounds= '$IT_DIR/loop.out'"
check "qemu-img info still fine after the cuts" qemu-img info "$URL"
it_finish
