# SPDX-License-Identifier: Apache-2.0
# Shared helpers for kura integration and conformance tests (sourced, bash).
#
#   source "$(dirname "$0")/lib.sh"
#   it_init readwrite            # temp dir, cleanup trap, finds binaries (exit 77 if missing)
#   P=$(free_port)
#   kura_start --listen 127.0.0.1:$P      # default embedded target, or:
#   kura_start -c "$IT_DIR/kura.conf" --listen ...
#   ... ; kura_stop (SIGTERM, must exit 0) ; kura_kill9
#
# Everything stays on 127.0.0.0/8, ports are picked free at random, and every
# daemon started here is killed by the EXIT trap even when the test fails.

IT_NAME=${IT_NAME:-test}
IT_DIR=""
KURA_PID=""
IT_PIDS=()
IT_FAILS=0
IT_CHECKS=0
KURA_IQN=${KURA_IQN:-iqn.2026-11.org.kura:demo}

log() { echo "[$IT_NAME $(date +%H:%M:%S)] $*"; }
skip() { echo "SKIP: $*"; exit 77; }
die() { echo "FAIL: $*"; it_dump_log; exit 1; }
# check DESCRIPTION COMMAND...: runs the command, counts a failure when it fails.
check() {
  local what=$1; shift
  IT_CHECKS=$((IT_CHECKS + 1))
  if "$@"; then log "ok: $what"; else log "NOT OK: $what"; IT_FAILS=$((IT_FAILS + 1)); fi
}
# it_finish: summary line and exit code.
it_finish() {
  local passed=$((IT_CHECKS - IT_FAILS))
  echo "$passed passed, $IT_FAILS failed"
  if [ "$IT_FAILS" -ne 0 ]; then it_dump_log; exit 1; fi
  [ "$IT_CHECKS" -gt 0 ] || { echo "FAIL: no checks ran"; exit 1; }
  exit 0
}

it_dump_log() {
  if [ -n "$IT_DIR" ] && [ -f "$IT_DIR/kura.log" ]; then
    echo "---- last 40 lines of kura-targetd log ----"
    tail -n 40 "$IT_DIR/kura.log"
  fi
  if declare -F it_dump_extra >/dev/null; then it_dump_extra; fi
}

it_cleanup() {
  local p
  for p in "${IT_PIDS[@]}" $KURA_PID; do
    [ -n "$p" ] && kill -9 "$p" 2>/dev/null
  done
  for p in "${IT_PIDS[@]}" $KURA_PID; do
    [ -n "$p" ] && wait "$p" 2>/dev/null
  done
  if [ -n "$IT_DIR" ] && [ -z "${IT_KEEP:-}" ]; then rm -rf "$IT_DIR"; fi
}

# it_init NAME: locate the build, the daemon and the client tools; make a temp dir.
it_init() {
  IT_NAME=$1
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  KURA_SRC=${KURA_SRC:-$(cd "$here/../.." && pwd)}
  KURA_BUILD=${KURA_BUILD:-$KURA_SRC/build}
  KURA_TARGETD=${KURA_TARGETD:-$KURA_BUILD/target/kura-targetd}
  IT_CLIENTS=$KURA_BUILD/tests/integration
  [ -x "$KURA_TARGETD" ] || skip "kura-targetd not built ($KURA_TARGETD missing)"
  IT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kura-it-$IT_NAME.XXXXXX")
  mkdir -p "$IT_DIR/data"
  trap it_cleanup EXIT
  trap 'exit 130' INT TERM
}

# need_cmd CMD...: skip the test when a client tool is missing.
need_cmd() {
  local c
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip "$c not installed (scripts/install-deps.sh)"; done
}
# need_client NAME: the path of a built libiscsi client kura-it-client_NAME.
need_client() {
  local p=$IT_CLIENTS/kura-it-client_$1
  [ -x "$p" ] || skip "$p not built"
  echo "$p"
}

# free_port [HOST]: a TCP port that nothing listens on, chosen at random
# below the kernel's ephemeral range (ip_local_port_range), so that outgoing
# client connections of tests running in parallel cannot take it before the
# daemon binds it.
free_port() {
  local host=${1:-127.0.0.1} p i lo=32768 hi span
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  span=$(( lo - 1 - 10000 ))
  [ "$span" -gt 1000 ] || span=20000
  for i in $(seq 1 200); do
    p=$((10000 + (RANDOM * 32768 + RANDOM) % span))
    if ! ss -Htan "sport = :$p" 2>/dev/null | grep -q . && \
       python3 -c "import socket,sys;s=socket.socket();s.bind(('$host',$p))" 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  echo "no free port" >&2; return 1
}

# wait_port HOST PORT [SECONDS]: wait until something accepts on HOST:PORT.
wait_port() {
  local host=$1 port=$2 t=${3:-20} i
  for i in $(seq 1 $((t * 10))); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    if [ -n "$KURA_PID" ] && ! kill -0 "$KURA_PID" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

# kura_start ARGS...: start kura-targetd in the foreground (background job) with
# the test's data dir; waits for every --listen ADDR:PORT in ARGS (or KURA_WAIT
# "host:port ..."). Log in $IT_DIR/kura.log (appended across restarts).
KURA_LAST_ARGS=()
kura_start() {
  KURA_LAST_ARGS=("$@")
  local waits=() a prev=""
  for a in "$@"; do
    [ "$prev" = "--listen" ] && waits+=("$a")
    case $a in --listen=*) waits+=("${a#--listen=}") ;; esac
    prev=$a
  done
  [ -n "${KURA_WAIT:-}" ] && waits+=($KURA_WAIT)
  local try ok i banners
  for try in 1 2 3 4 5; do
    banners=$(grep -c '^portal ' "$IT_DIR/kura.log" 2>/dev/null)
    echo "==== start $(date +%T): $KURA_TARGETD --foreground --data-dir $IT_DIR/data $*" >>"$IT_DIR/kura.log"
    "$KURA_TARGETD" --foreground --data-dir "$IT_DIR/data" "$@" >>"$IT_DIR/kura.log" 2>&1 &
    KURA_PID=$!
    ok=1
    for a in "${waits[@]}"; do
      wait_port "${a%:*}" "${a##*:}" 30 || { ok=0; break; }
    done
    [ $ok = 1 ] && break
    # a port still held by a closing connection (TIME_WAIT of a previous run,
    # or a client of a parallel test): retry the same configuration shortly
    if ! kill -0 "$KURA_PID" 2>/dev/null && tail -n 3 "$IT_DIR/kura.log" | grep -q "Address already in use"; then
      wait "$KURA_PID" 2>/dev/null; KURA_PID=""
      log "port busy, retrying ($try)"; sleep 1; continue
    fi
    die "kura-targetd did not listen on $a"
  done
  [ $ok = 1 ] || die "kura-targetd could not bind ${waits[*]}"
  # Listening is not yet ready: the start-up banner comes once the admin
  # socket is up too (kura-targetctl right after start must find it).
  for i in $(seq 1 300); do
    [ "$(grep -c '^portal ' "$IT_DIR/kura.log")" -gt "${banners:-0}" ] && break
    kill -0 "$KURA_PID" 2>/dev/null || die "kura-targetd exited during start-up"
    sleep 0.1
  done
  log "kura-targetd pid $KURA_PID listening on ${waits[*]}"
}
kura_restart() { kura_start "${KURA_LAST_ARGS[@]}"; }

# kura_stop [SECONDS]: SIGTERM, wait up to SECONDS (default 10); returns the exit
# status (124 when it did not exit in time; then it is killed).
kura_stop() {
  local t=${1:-10} i rc
  [ -n "$KURA_PID" ] || return 0
  kill -TERM "$KURA_PID" 2>/dev/null
  for i in $(seq 1 $((t * 10))); do
    kill -0 "$KURA_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$KURA_PID" 2>/dev/null; then
    kill -9 "$KURA_PID" 2>/dev/null; wait "$KURA_PID" 2>/dev/null; KURA_PID=""; return 124
  fi
  wait "$KURA_PID"; rc=$?
  KURA_PID=""
  return $rc
}
kura_kill9() {
  [ -n "$KURA_PID" ] || return 0
  kill -9 "$KURA_PID" 2>/dev/null
  wait "$KURA_PID" 2>/dev/null
  KURA_PID=""
}

# kura_json HOST:PORT LUN IQN INITIATOR: qemu block spec with an initiator name.
kura_json() {
  echo "json:{\"driver\":\"raw\",\"file\":{\"driver\":\"iscsi\",\"transport\":\"tcp\",\"portal\":\"$1\",\"target\":\"$3\",\"lun\":$2,\"initiator-name\":\"$4\"}}"
}
# kura_url HOST:PORT [LUN] [IQN]: iscsi:// URL of a LUN.
kura_url() { echo "iscsi://$1/${3:-$KURA_IQN}/${2:-0}"; }

# qio URL qemu-io-commands...: run qemu-io on an iscsi URL (or a json: block
# spec); fails on any error line, including a pattern mismatch.
qio() {
  local url=$1; shift
  local args=() c out
  for c in "$@"; do args+=(-c "$c"); done
  local fmt=(-f raw)
  case $url in json:*) fmt=() ;; esac     # json: filenames name their own driver
  out=$(timeout 60 qemu-io "${fmt[@]}" "${args[@]}" "$url" 2>&1)
  local rc=$?
  echo "$out" >>"$IT_DIR/qemu-io.log"
  # QIO_ALLOW: an extended regex of lines the caller expects and accepts
  # (e.g. a unit attention met during qemu's open sequence).
  local judged=$out
  [ -n "${QIO_ALLOW:-}" ] && judged=$(echo "$out" | grep -vE "$QIO_ALLOW")
  if [ $rc -ne 0 ] || echo "$judged" | grep -qiE "fail|error|mismatch|Pattern verification"; then
    echo "$judged" | grep -iE "fail|error|mismatch|verification" | head -5
    return 1
  fi
  return 0
}

# Raw iSCSI over TCP from python3 (no pip packages): used for hand-built PDUs.
# py_iscsi HOST PORT SCRIPT: SCRIPT is python code run after the helper
# definitions below (login(), pdu(), recv_pdu(), crc32c()...).
py_iscsi() {
  local host=$1 port=$2 code=$3
  python3 - "$host" "$port" <<PY
import socket, struct, sys, os, time
HOST, PORT = sys.argv[1], int(sys.argv[2])
_T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _T.append(c)
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
def pad4(b): return b + b"\0" * (-len(b) % 4)
def connect(timeout=5.0):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s
def recvn(s, n):
    b = b""
    while len(b) < n:
        x = s.recv(n - len(b))
        if not x: raise EOFError("connection closed after %d of %d bytes" % (len(b), n))
        b += x
    return b
def bhs(opcode, flags, dlen, lun=0, itt=0, immediate=False, ahs=0):
    op = opcode | (0x40 if immediate else 0)
    h = struct.pack(">BBHB3sQI", op, flags, 0, ahs, dlen.to_bytes(3, "big"), lun, itt)
    h += b"\0" * 28
    assert len(h) == 48
    return h
def kv(d): return b"".join(("%s=%s" % (k, v)).encode() + b"\0" for k, v in d)
def parse_kv(data):
    out = {}
    for item in data.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1); out[k.decode()] = v.decode()
    return out
class Conn:
    def __init__(self, hd=False, dd=False):
        self.s = connect(); self.hd = hd; self.dd = dd; self.cmdsn = 1; self.itt = 1; self.statsn = 0
    def send(self, h, data=b"", digests=True):
        b = h
        if self.hd and digests: b += struct.pack("<I", crc32c(h))
        if data:
            b += pad4(data)
            if self.dd and digests: b += struct.pack("<I", crc32c(pad4(data)))
        self.s.sendall(b)
    def recv(self):
        h = recvn(self.s, 48)
        ahs = h[4] * 4
        if ahs: h += recvn(self.s, ahs)
        if self.hd:
            d = struct.unpack("<I", recvn(self.s, 4))[0]
            if d != crc32c(h): raise ValueError("bad header digest from target")
        dlen = int.from_bytes(h[5:8], "big")
        data = recvn(self.s, dlen + (-dlen % 4)) if dlen else b""
        if dlen and self.dd:
            d = struct.unpack("<I", recvn(self.s, 4))[0]
            if d != crc32c(data): raise ValueError("bad data digest from target")
        return h, data[:dlen]
def login_pdu(c, csg, nsg, transit, keys, isid, tsih=0):
    data = kv(keys)
    flags = (0x80 if transit else 0) | (csg << 2) | (nsg if transit else 0)
    h = bytearray(bhs(0x03, flags, len(data), itt=c.itt, immediate=True))
    h[8:14] = isid; h[14:16] = struct.pack(">H", tsih)
    h[24:28] = struct.pack(">I", c.cmdsn)    # CmdSN (login is immediate: not advanced)
    h[28:32] = struct.pack(">I", c.statsn)   # ExpStatSN
    c.s.sendall(bytes(h) + pad4(data))       # login PDUs never carry digests
    r = recvn(c.s, 48)
    dlen = int.from_bytes(r[5:8], "big")
    d = recvn(c.s, dlen + (-dlen % 4))[:dlen] if dlen else b""
    if r[0] & 0x3F != 0x23:
        raise ValueError("login: got opcode 0x%02x" % (r[0] & 0x3F))
    c.statsn = struct.unpack(">I", r[24:28])[0] + 1
    return r, d
def login(c, initiator, target=None, op_keys=(), session="Normal", isid=b"\x80\x00\x00\x00\x00\x01", sec_keys=None):
    """Security stage with AuthMethod=None, then the operational stage with
    op_keys, to full feature phase. Returns (status_class, status_detail, keys, tsih)."""
    keys = [("InitiatorName", initiator), ("SessionType", session)]
    if target: keys.append(("TargetName", target))
    keys += [("AuthMethod", "None")] if sec_keys is None else list(sec_keys)
    got = {}
    r, d = login_pdu(c, 0, 1, True, keys, isid)
    got.update(parse_kv(d))
    for _ in range(8):
        if r[36] != 0: return r[36], r[37], got, 0
        if r[1] & 0x80 and (r[1] & 3) == 1: break
        r, d = login_pdu(c, 0, 1, True, [], isid); got.update(parse_kv(d))
    else:
        raise ValueError("login: security stage did not end")
    r, d = login_pdu(c, 1, 3, True, list(op_keys), isid)
    got.update(parse_kv(d))
    for _ in range(8):
        if r[36] != 0: return r[36], r[37], got, 0
        if r[1] & 0x80 and (r[1] & 3) == 3: break
        r, d = login_pdu(c, 1, 3, True, [], isid); got.update(parse_kv(d))
    else:
        raise ValueError("login: operational stage did not end")
    c.imm = got.get("ImmediateData", "Yes") == "Yes"
    c.hd = got.get("HeaderDigest") == "CRC32C"
    c.dd = got.get("DataDigest") == "CRC32C"
    return 0, 0, got, struct.unpack(">H", r[14:16])[0]
def sense_key(seg):
    """Sense key from a SCSI Response data segment (2-byte length + sense)."""
    if len(seg) < 4: return None
    fmt = seg[2] & 0x7F
    if fmt in (0x72, 0x73): return seg[3] & 0x0F
    return seg[4] & 0x0F if len(seg) > 4 else None
def sense_kcq(seg):
    """(sense key, ASC, ASCQ) from a SCSI Response data segment."""
    s = seg[2:]
    if s and (s[0] & 0x7F) in (0x72, 0x73): return (s[1] & 0xF, s[2], s[3])
    return (s[2] & 0xF, s[12], s[13])
def wait_file(f, tries=600):
    """Wait up to tries/10 s for file f (a step signal from the shell)."""
    for _ in range(tries):
        if os.path.exists(f): return
        time.sleep(0.1)
    raise SystemExit('timeout ' + f)
def scsi_cmd(c, cdb, lun=0, read_len=0, write_data=b"", ua_retry=3):
    """One SCSI command; repeated (up to ua_retry times) while the target
    answers UNIT ATTENTION, as after every login (ua_retry=0 to see them)."""
    for _ in range(ua_retry):
        st, d, sense = scsi_cmd1(c, cdb, lun, read_len, write_data)
        if not (st == 2 and sense_key(sense) == 6):
            return st, d, sense
    return scsi_cmd1(c, cdb, lun, read_len, write_data)
def scsi_cmd1(c, cdb, lun=0, read_len=0, write_data=b""):
    """One SCSI command (simple task attribute); write data goes as immediate
    data when negotiated, else on R2T. Returns (status, data_in, sense_segment)."""
    flags = 0x80 | (0x40 if read_len else 0) | (0x20 if write_data else 0) | 1
    cdb = cdb + b"\0" * (16 - len(cdb))
    imm = write_data if getattr(c, "imm", True) else b""
    h = bytearray(bhs(0x01, flags, len(imm), lun=lun << 48, itt=c.itt))
    h[20:24] = struct.pack(">I", read_len or len(write_data))
    h[24:28] = struct.pack(">I", c.cmdsn)
    h[28:32] = struct.pack(">I", c.statsn)
    h[32:48] = cdb
    c.cmdsn += 1; c.itt += 1
    c.send(bytes(h), imm)
    data = b""
    while True:
        r, d = c.recv()
        op = r[0] & 0x3F
        if op == 0x25:                       # Data-In
            data += d
            if r[1] & 0x01:                  # S bit: status included
                return r[3], data, b""
        elif op == 0x21:                     # SCSI Response
            c.statsn = struct.unpack(">I", r[24:28])[0] + 1
            return r[3], data, d
        elif op == 0x31:                     # R2T: send the requested Data-Out
            ttt = r[20:24]
            off, want = struct.unpack(">II", r[40:48])
            chunk = write_data[off:off + want]
            dh = bytearray(bhs(0x05, 0x80, len(chunk), lun=lun << 48, itt=struct.unpack(">I", r[16:20])[0]))
            dh[20:24] = ttt
            dh[28:32] = struct.pack(">I", c.statsn)
            dh[40:44] = struct.pack(">I", off)
            c.send(bytes(dh), chunk)
        elif op == 0x20:                     # NOP-In ping (a slow step): answer it
            answer_nop_in(c, r)
        else:
            raise ValueError("unexpected opcode 0x%02x" % op)
def answer_nop_in(c, r):
    """The target's NOP-In ping (TTT != 0xffffffff) gets a NOP-Out echoing
    its LUN and TTT (RFC 7143 11.18); CmdSN is not advanced (immediate)."""
    if r[20:24] == b"\xff\xff\xff\xff":
        return
    h = bytearray(bhs(0x00, 0x80, 0, immediate=True, itt=0xFFFFFFFF))
    h[8:16] = r[8:16]
    h[20:24] = r[20:24]
    h[24:28] = struct.pack(">I", c.cmdsn)
    h[28:32] = struct.pack(">I", c.statsn)
    c.send(bytes(h), b"")
$code
PY
}
