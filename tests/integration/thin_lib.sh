# Shared by test_thin_crash.sh and test_thin_snap.sh (sourced after lib.sh):
# thin_conf IQN POOL_SIZE LUN_SIZE writes $IT_DIR/kura.conf with one thin
# pool p (p.data / p.meta in data_dir) and target IQN whose LUN 0 is thin
# volume 1 of LUN_SIZE; a caller may append more [lun] sections.
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
