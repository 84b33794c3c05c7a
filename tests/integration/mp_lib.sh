# SPDX-License-Identifier: Apache-2.0
# Shared by test_multipath_failover.sh, test_multipath_nbd.sh and
# test_vm_nbd_failover.sh (sourced after lib.sh): mp_setup builds a network
# namespace $NS with two veth pairs ($HA/$TA at $ADDR_A, $HB/$TB at $ADDR_B),
# starts kura-targetd inside it on both portals with one thin LU (file
# ${MP_IMG:-mp.img}, ${MP_SIZE:-512M}), and writes an open-iscsi node DB under
# $ROOT with both portals automatic (initiator
# iqn.2026-11.org.kura:${MP_HOST:-mp-host}); the helpers query
# kura-initiatord's control socket $CTL. The caller sets NS, SUB, HA, TA, HB,
# TB, ADDR_A, ADDR_B and its cleanup trap first.
# Not for: the failover checks themselves, which differ per front end.

mp_setup() {
  ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"
  ip link add "$HA" type veth peer name "$TA" netns "$NS" || skip "cannot create veth pairs"
  ip link add "$HB" type veth peer name "$TB" netns "$NS"
  ip addr add 10.$SUB.1.1/24 dev "$HA"; ip addr add 10.$SUB.2.1/24 dev "$HB"
  ip link set "$HA" up; ip link set "$HB" up
  ip netns exec "$NS" ip addr add "$ADDR_A/24" dev "$TA"
  ip netns exec "$NS" ip addr add "$ADDR_B/24" dev "$TB"
  ip netns exec "$NS" ip link set "$TA" up; ip netns exec "$NS" ip link set "$TB" up
  ip netns exec "$NS" ip link set lo up

  cat >"$IT_DIR/kura.conf" <<EOF
[global]
data_dir = $IT_DIR/data
[target $KURA_IQN]
[lun 0]
backend = file
path = ${MP_IMG:-mp.img}
size = ${MP_SIZE:-512M}
create = yes
thin = yes
block_size = 512
EOF
  printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NS" "$KURA_TARGETD" >"$IT_DIR/targetd-ns"
  chmod +x "$IT_DIR/targetd-ns"
  KURA_TARGETD=$IT_DIR/targetd-ns
  kura_start -c "$IT_DIR/kura.conf" --listen "$ADDR_A:3260" --listen "$ADDR_B:3260"

  # Node DB in open-iscsi's layout, both portals with node.startup = automatic.
  ROOT=$IT_DIR/iscsi
  echo "InitiatorName=iqn.2026-11.org.kura:${MP_HOST:-mp-host}" >"$ROOT.name"
  mkdir -p "$ROOT"; mv "$ROOT.name" "$ROOT/initiatorname.iscsi"
  tp=1
  for a in "$ADDR_A" "$ADDR_B"; do
    d="$ROOT/nodes/$KURA_IQN/$a,3260,$tp"; mkdir -p "$d"
    printf '# BEGIN RECORD 2.1.8\nnode.name = %s\nnode.tpgt = %s\nnode.startup = automatic\nnode.conn[0].address = %s\nnode.conn[0].port = 3260\nnode.session.auth.authmethod = None\n# END RECORD\n' \
      "$KURA_IQN" "$tp" "$a" >"$d/default"
    tp=$((tp + 1))
  done
  CTL=$IT_DIR/ctl.sock
}

ctl() { python3 - "$CTL" "$@" <<'PY'
import socket, sys, urllib.parse
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
s.sendall((" ".join(urllib.parse.quote(a, safe="") for a in sys.argv[2:]) + "\n").encode())
buf = b""
while not (buf.endswith(b"OK\n") or b"\nERR" in b"\n" + buf):
    d = s.recv(65536)
    if not d: break
    buf += d
for l in buf.decode().splitlines():
    print(urllib.parse.unquote(l[2:]) if l.startswith("D ") else l)
PY
}
paths_up() { ctl SESSIONS | grep -c "state=up"; }
path_state() { ctl SESSIONS | grep "address=$1 " | sed 's/.*state=\([a-z]*\).*/\1/'; }
wait_for() {  # wait_for SECONDS CMD...
  local t=$1 i; shift
  for i in $(seq 1 $((t * 20))); do "$@" && return 0; sleep 0.05; done
  return 1
}
now_ms() { date +%s%3N; }
n_up_is() { [ "$(paths_up)" = "$1" ]; }
path_not_up() { [ "$(path_state "$1")" != up ]; }
active_addr() { ctl SESSIONS | grep "active=yes" | head -1 | sed 's/.*address=\([^ ]*\).*/\1/'; }
