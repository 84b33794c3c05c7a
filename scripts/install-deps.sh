#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install every Debian 12 package that kura's build, tests and benchmark need.
# The single place listing them. Idempotent: when every package is already
# installed (dpkg -s), apt is not touched at all, so it is fast and works offline.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake clang pkg-config
  # libraries kura links against
  libiscsi-dev liburing-dev libssl-dev libinih-dev libcmocka-dev libisal-dev libfuse3-dev
  # libFuzzer / sanitizer runtimes for the clang fuzz build
  libclang-rt-14-dev
  # tools/format.sh (.clang-format needs version 14)
  clang-format
  # clients used by integration / conformance tests and the benchmark
  libiscsi-bin qemu-utils qemu-block-extra
  # peer target for the side-by-side benchmark
  tgt
  # open-iscsi's iscsiadm: the peer of kura-iscsiadm in test_iscsiadm_parity.sh
  open-iscsi
  # test scripts: ss and ip netns (iproute2), ps (procps), python3 (raw PDU
  # initiator), timeout (coreutils), losetup (util-linux), mkfs.ext4 /
  # fsck.ext4 for the initiator's loop-device tests (e2fsprogs)
  iproute2 procps python3 coreutils util-linux e2fsprogs
  # test_vm_nbd_failover.sh and tests/cluster/: a TCG guest (its kernel and
  # busybox-static are fetched by tests/integration/vm/build-guest.sh with
  # apt-get download)
  qemu-system-x86
  # tools/kura-ha-bench.sh: Debian's sanlock as the peer of kura-lockd; bc
  sanlock bc
  # kura-console (HTTPS by libmicrohttpd, built with GnuTLS on Debian); its
  # tests: promtool (prometheus), headless Chromium driven by Selenium
  libmicrohttpd-dev prometheus python3-selenium chromium chromium-driver
  # lun-backends/rbd/ (librbd, librados) and tests/ceph/: a throw-away
  # single-machine Ceph 16 cluster (one monitor, three OSDs; no mgr needed)
  librbd-dev librados-dev ceph-mon ceph-osd ceph-common
)
# kura-console's charts: uPlot from the npm registry, pinned by
# console/package-lock.json and fetched by `npm ci` at build time
# (console/npm.cmake); Debian's nodejs + npm unless an npm is already there.
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg -s "$p" >/dev/null 2>&1 || \
     ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
