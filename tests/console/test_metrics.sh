#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The daemon's metrics (issue 14) through the admin socket's `metrics`
# request: a known workload moves the LUN's counters by exactly what it did
# (qemu-img bench of N reads, then N writes => kura_lun_commands_total
# {op="read"} and {op="write"} grow by N, the bytes by N * 4096, the latency
# histogram's _count follows); a scrape taken while a bench runs passes
# `promtool check metrics` with no warning; pool and array families are
# present with their values; a RAID member failed by hand shows as degraded.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../integration/lib.sh"
it_init console_metrics
need_cmd qemu-img promtool python3
CTL=$KURA_BUILD/tools/kura-targetctl
[ -x "$CTL" ] || skip "kura-targetctl not built"

P=$(free_port)
H=127.0.0.1:$P
T=iqn.2026-11.org.kura:metrics
cat >"$IT_DIR/kura.conf" <<CONF
[portal main]
address = $H
[raid r1]
level = 1
members = r1a.img, r1b.img
member_size = 16M
create = yes
[pool p]
data = p.data
size = 16M
meta = p.meta
[target $T]
[lun 0]
backend = memory
size = 64M
CONF
KURA_WAIT=$H kura_start -c "$IT_DIR/kura.conf"
SOCK=$IT_DIR/data/kura-targetd.sock
scrape() { "$CTL" -s "$SOCK" metrics; }
# value FAMILY LABELS: the sample's value (LABELS: the text between braces)
value() { scrape | awk -v k="$1{$2}" '$1 == k { print $2 }'; }
L="target=\"$T\",lun=\"0\""
N=500
URL=$(kura_url "$H" 0 "$T")

r0=$(value kura_lun_commands_total "$L,op=\"read\"")
h0=$(value kura_lun_command_duration_seconds_count "$L,op=\"read\"")
b0=$(value kura_lun_bytes_total "$L,op=\"read\"")
check "qemu-img bench: $N reads" timeout 60 qemu-img bench -f raw -c $N -s 4096 -d 1 "$URL"
r1=$(value kura_lun_commands_total "$L,op=\"read\"")
h1=$(value kura_lun_command_duration_seconds_count "$L,op=\"read\"")
b1=$(value kura_lun_bytes_total "$L,op=\"read\"")
log "reads $r0 -> $r1, histogram count $h0 -> $h1, bytes $b0 -> $b1"
check "read commands grew by $N" [ $((r1 - r0)) -eq $N ]
check "read histogram count grew by $N" [ $((h1 - h0)) -eq $N ]
check "read bytes grew by $N x 4096" [ $((b1 - b0)) -eq $((N * 4096)) ]

w0=$(value kura_lun_commands_total "$L,op=\"write\"")
check "qemu-img bench -w: $N writes" timeout 60 qemu-img bench -w -f raw -c $N -s 4096 -d 1 "$URL"
w1=$(value kura_lun_commands_total "$L,op=\"write\"")
log "writes $w0 -> $w1"
check "write commands grew by $N" [ $((w1 - w0)) -eq $N ]

# A scrape under load: a bench in the background, the scrape in the middle.
timeout 60 qemu-img bench -f raw -c 20000 -s 4096 -d 8 "$URL" >/dev/null 2>&1 &
BENCH=$!
IT_PIDS+=("$BENCH")
for i in $(seq 1 100); do
  scrape >"$IT_DIR/scrape.txt"
  grep -q "^kura_session_commands_total{initiator=" "$IT_DIR/scrape.txt" && break
  sleep 0.05
done
out=$(promtool check metrics <"$IT_DIR/scrape.txt" 2>&1); rc=$?
log "promtool: rc=$rc ${out:-no output}"
check "promtool check metrics on a scrape under load: clean" [ $rc = 0 -a -z "$out" ]
check "the scrape under load saw the session" grep -q "^kura_session_commands_total{initiator=" "$IT_DIR/scrape.txt"
wait "$BENCH"

check "pool family: data bytes of pool p" [ "$(value kura_pool_data_bytes 'pool="p"')" = 16777216 ]
check "array r1 clean" [ "$(value kura_array_state 'array="r1",state="clean"')" = 1 ]
check "raid fail r1 1" "$CTL" -s "$SOCK" raid fail r1 1
check "array r1 degraded" [ "$(value kura_array_state 'array="r1",state="degraded"')" = 1 ]
check "array r1: one failed member" [ "$(value kura_array_members 'array="r1",state="failed"')" = 1 ]
check "portal logins counted" [ "$(value kura_portal_logins_total "portal=\"$H\",port_group=\"1\"")" -ge 3 ]
check "metrics with a word too many refused" bash -c "! '$CTL' -s '$SOCK' metrics x"
check "kura-targetd exits 0 on SIGTERM" kura_stop
it_finish
