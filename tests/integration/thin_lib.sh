# SPDX-License-Identifier: Apache-2.0
# Shared by test_thin_crash.sh and test_thin_snap.sh (sourced after lib.sh):
# thin_conf IQN POOL_SIZE LUN_SIZE writes $IT_DIR/kura.conf with one thin
# pool p (p.data / p.meta in data_dir) and target IQN whose LUN 0 is thin
# volume 1 of LUN_SIZE; a caller may append more [lun] sections.
# raid6_thin_conf IQN [SPARES] writes the same for a thin volume (256M) in
# pool p on RAID-6 r6 over six 64M member files m0..m5.img (optional spares),
# as test_thin_raid6.sh, test_targetctl_storage.sh and test_raid_admin.sh
# use; RAID6_ARRAY (default r6) names the array, RAID6_REBUILD_RATE (default
# 400M) sets its rebuild_rate.
# Not for: the checks themselves.

thin_conf() {
  cat >"$IT_DIR/kura.conf" <<CONF
[global]
log_level = info
[pool p]
data = p.data
size = $2
meta = p.meta
[target $1]
[lun 0]
backend = thin
pool = p
volume = 1
size = $3
CONF
}

raid6_thin_conf() {
  cat >"$IT_DIR/kura.conf" <<CONF
[global]
log_level = info
[raid ${RAID6_ARRAY:-r6}]
level = 6
chunk = 64K
members = m0.img, m1.img, m2.img, m3.img, m4.img, m5.img
member_size = 64M
create = yes
rebuild_rate = ${RAID6_REBUILD_RATE:-400M}
${2:+spares = $2}
[pool p]
data = ${RAID6_ARRAY:-r6}
meta = p.meta
[target $1]
[lun 0]
backend = thin
pool = p
volume = 1
size = 256M
CONF
}
