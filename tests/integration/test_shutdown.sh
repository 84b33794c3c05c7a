#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SIGTERM with a client session logged in (and another idle TCP connection):
# the daemon exits with status 0 within a few seconds.
source "$(dirname "$0")/lib.sh"
it_init shutdown
need_cmd qemu-io

P=$(free_port)
kura_start --listen 127.0.0.1:$P
URL=$(kura_url 127.0.0.1:$P 0)
check "client can write/read before shutdown" qio "$URL" "write -P 0x5a 0 64k" "read -P 0x5a 0 64k"

# A qemu-io session that stays logged in: reads in a loop from a FIFO-fed shell.
mkfifo "$IT_DIR/cmds"
qemu-io -f raw "$URL" <"$IT_DIR/cmds" >"$IT_DIR/qio-session.log" 2>&1 &
QPID=$!; IT_PIDS+=($QPID)
exec 7>"$IT_DIR/cmds"
echo "read -P 0x5a 0 64k" >&7
for i in $(seq 1 50); do grep -q "read 65536/65536" "$IT_DIR/qio-session.log" && break; sleep 0.1; done
check "held session logged in and read data" grep -q "read 65536/65536" "$IT_DIR/qio-session.log"
# plus a bare TCP connection that never logs in
exec 8<>"/dev/tcp/127.0.0.1/$P"

t0=$(date +%s%N)
kura_stop 5; rc=$?
t1=$(date +%s%N)
log "daemon exited with $rc after $(( (t1 - t0) / 1000000 )) ms"
check "SIGTERM with open sessions: exit status 0 within 5 s" test "$rc" -eq 0
check "port closed after exit" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$P) 2>/dev/null"
exec 7>&- 8>&-
it_finish
