#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Conformance on thin provisioning: iscsi-test-cu -d, suites SCSI.Unmap,
# SCSI.WriteSame10, SCSI.WriteSame16 and SCSI.GetLBAStatus against a thin
# volume LUN (backend = thin, docs/storage.md) on a file-backed pool, with a
# second, multipath URL. The gate: 0 failures, no skip for want of logical
# block provisioning ("fully provisioned", "LBPME", "does not support
# UNMAP"), and every non-passing test listed in thin-expected-results.txt
# ("TESTNAME SKIP reason"; only the first two fields are compared).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
it_init thin_suites
need_cmd iscsi-test-cu
EXPECTED=$here/thin-expected-results.txt
SPECS=(SCSI.Unmap SCSI.WriteSame10 SCSI.WriteSame16 SCSI.GetLBAStatus)

P1=$(free_port 127.0.0.1)
P2=$(free_port 127.0.0.2)
IQN=iqn.2026-11.org.kura:thin-conformance
cat >"$IT_DIR/kura.conf" <<CONF
[global]
log_level = warn
[portal one]
address = 127.0.0.1:$P1
[portal two]
address = 127.0.0.2:$P2
[pool cu]
data = cu.data
size = 512M
meta = cu.meta
[target $IQN]
[lun 0]
backend = thin
pool = cu
volume = 1
size = 256M
CONF
KURA_WAIT="127.0.0.1:$P1 127.0.0.2:$P2" kura_start -c "$IT_DIR/kura.conf"
U1=iscsi://127.0.0.1:$P1/$IQN/0
U2=iscsi://127.0.0.2:$P2/$IQN/0

: >"$IT_DIR/results.txt"
for spec in "${SPECS[@]}"; do
  log "iscsi-test-cu -d -t $spec"
  (cd "$IT_DIR" && timeout 900 iscsi-test-cu -d -v -t "$spec" \
     --initiator-name=iqn.2026-11.org.kura:thin-cu-1 --initiator-name-2=iqn.2026-11.org.kura:thin-cu-2 \
     "$U1" "$U2") >"$IT_DIR/cu-part.out" 2>&1
  cat "$IT_DIR/cu-part.out" >>"$IT_DIR/cu.out"
  cu_parse <"$IT_DIR/cu-part.out" >>"$IT_DIR/results.txt"
done
npass=$(awk '$2=="PASS"' "$IT_DIR/results.txt" | wc -l)
nfail=$(awk '$2=="FAIL"' "$IT_DIR/results.txt" | wc -l)
nskip=$(awk '$2=="SKIP"' "$IT_DIR/results.txt" | wc -l)
log "thin suites: $(wc -l <"$IT_DIR/results.txt") tests, $npass passed, $nfail failed, $nskip skipped"
awk '$2!="PASS"' "$IT_DIR/results.txt"
mkdir -p "$KURA_BUILD/conformance-results" 2>/dev/null && \
  cp "$IT_DIR/results.txt" "$KURA_BUILD/conformance-results/thin-results.txt" 2>/dev/null

check "at least 25 tests ran" test "$(wc -l <"$IT_DIR/results.txt")" -ge 25
check "0 failures" test "$nfail" = 0
check "no skip for want of thin provisioning" \
  bash -c "! grep -iE 'SKIP.*(fully provisioned|LBPME|not support.*(unmap|thin)|LBPU|LBPWS)' '$IT_DIR/results.txt'"
awk '$2!="PASS" {print $1, $2}' "$IT_DIR/results.txt" | sort >"$IT_DIR/actual.lst"
grep -vE '^\s*(#|$)' "$EXPECTED" 2>/dev/null | awk '{print $1, $2}' | sort >"$IT_DIR/expected.lst"
check "non-passing tests match thin-expected-results.txt" diff -u "$IT_DIR/expected.lst" "$IT_DIR/actual.lst"
check "kura-targetd survived" kill -0 "$KURA_PID"
kura_stop 10
it_finish
