#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ublk front end of kura-initiatord: needs the ublk driver (/dev/ublk-control).
# Where it is missing (no ublk_drv module) the daemon logs that and stays on
# FUSE/NBD, and this test exits 77 saying so.
source "$(dirname "$0")/lib.sh"
it_init initiator_ublk
INID=${KURA_INITIATORD:-$KURA_BUILD/initiator/kura-initiatord}
[ -x "$INID" ] || skip "kura-initiatord not built ($INID)"
if [ ! -e /dev/ublk-control ]; then
  # still check the daemon reports it and keeps running
  "$INID" --root "$IT_DIR/none" --ctl-sock "$IT_DIR/ctl.sock" --ublk >"$IT_DIR/ini.log" 2>&1 &
  pid=$!
  sleep 1
  alive=no; kill -0 $pid 2>/dev/null && alive=yes
  kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
  grep -q "ublk: /dev/ublk-control not present" "$IT_DIR/ini.log" || die "daemon did not report the missing ublk driver"
  [ $alive = yes ] || die "daemon did not keep running without ublk"
  skip "/dev/ublk-control absent (kernel without ublk_drv): ublk front end not testable here; the daemon reported it and kept running"
fi
skip "/dev/ublk-control present but the ublk front end is not implemented yet (FUSE+loop and NBD are)"
