#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Smoke test of tests/ceph/ceph_lib.sh: the throw-away cluster comes up, an
# RBD image written with the rbd CLI reads back the same, the data survives
# one OSD killed with -9 (pool size 3), the OSD comes back, and the cluster
# stops cleanly. Needs no kura binary.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../integration/lib.sh"
source "$here/ceph_lib.sh"
ceph_need
IT_NAME=ceph_cluster
IT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kura-it-ceph_cluster.XXXXXX")
trap it_cleanup EXIT
trap 'exit 130' INT TERM

ceph_start
check "three OSDs up" test "$(ceph_osds_up)" = 3
ceph_pool_create rbd
ceph_image_create rbd smoke 16M
head -c 4M /dev/urandom >"$IT_DIR/in"
check "rbd import 4 MiB" rbd_cli import --no-progress "$IT_DIR/in" rbd/smoke-data
same_data() { rbd_cli export --no-progress rbd/smoke-data - 2>/dev/null | cmp - "$IT_DIR/in"; }
check "rbd export reads the same bytes" same_data
image_16m() { rbd_cli info rbd/smoke | grep -q 'size 16 MiB'; }
check "rbd info shows the 16 MiB image" image_16m
ceph_osd_kill 1
check "osd.1 marked down after kill -9" ceph_osd_wait_down 1 30
check "reads go on with one OSD down" same_data
ceph_osd_start 1
check "osd.1 back up" ceph_osd_wait_up 1 60
ceph_stop
none_alive() { local p; for p in "${IT_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
check "monitor and OSDs stopped" none_alive
it_finish
