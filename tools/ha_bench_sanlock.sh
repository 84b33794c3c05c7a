# SPDX-License-Identifier: Apache-2.0
# The sanlock side of tools/kura-ha-bench.sh (sourced; needs bench_lib.sh).
#
# What it measures: Debian's sanlock (3.8.5) as the peer to beat, with its
# defaults (io_timeout 10 s, so a host renews every 20 s and is dead 8 x
# io_timeout after its last renewal), on a kura LUN presented to this machine
# by kura-initiatord (FUSE file -> loop device, O_DIRECT). Each trial is one
# simulated two-host cluster: two sanlock daemons (one per host, each with its
# own SANLOCK_RUN_DIR, no watchdog: -w 0), one lockspace and one resource
# lease in its own 2 MiB of the device. Host 1 holds the lease for a process
# (`sanlock client command`); host 1's daemon and that process are killed
# with SIGKILL; host 2 retries the acquisition every 0.5 s. Reported per trial:
# seconds from the kill to the survivor holding the lease. The victim's last
# renewal is up to 20 s before the kill, so this understates sanlock's time
# from the last heartbeat (kura's measure) by 0-20 s: in sanlock's favour.
#
# Why an LD_PRELOAD shim: `sanlock daemon` raises RLIMIT_MEMLOCK and
# RLIMIT_RTPRIO to unlimited at start and exits when that fails; this sandbox
# has no CAP_SYS_RESOURCE. The shim turns that EPERM into success; nothing
# else changes (design/PLATFORM.md). Trials run side by side, one cluster
# each, so N trials take about one sanlock failover (~2.5 min).
#
# Not for: kura's own figures (kura-ha-bench.sh) or setting up the LUN
# (ha_present_lun below does that for both sides).

# ha_sanlock_shim DIR: build the setrlimit shim into DIR, print its path.
ha_sanlock_shim() {
	cat >"$1/rlimit_shim.c" <<'EOF'
#include <dlfcn.h>
#include <errno.h>
#include <sys/resource.h>
typedef int (*set_fn)(__rlimit_resource_t, const void *);
static int allow(int r)
{
	if (r != 0 && errno == EPERM) {
		errno = 0;
		return 0;
	}
	return r;
}
int setrlimit(__rlimit_resource_t res, const struct rlimit *rl)
{
	return allow(((set_fn)dlsym(RTLD_NEXT, "setrlimit"))(res, rl));
}
int setrlimit64(__rlimit_resource_t res, const struct rlimit64 *rl)
{
	return allow(((set_fn)dlsym(RTLD_NEXT, "setrlimit64"))(res, rl));
}
EOF
	cc -D_GNU_SOURCE -shared -fPIC -O2 -o "$1/rlimit_shim.so" "$1/rlimit_shim.c" -ldl || return 1
	echo "$1/rlimit_shim.so"
}

# ha_present_lun DIR KURA_BUILD IQN PORT: present LUN 0 of IQN on
# 127.0.0.1:PORT through kura-initiatord as a loop device (O_DIRECT); print the
# loop device. The daemon's pid is in DIR/initiatord.pid.
ha_present_lun() {
	local dir=$1 build=$2 iqn=$3 port=$4 root=$1/iscsi f i
	mkdir -p "$root/nodes/$iqn/127.0.0.1,$port,1" "$dir/lu"
	echo "InitiatorName=iqn.2026-12.org.kura:ha-bench" >"$root/initiatorname.iscsi"
	printf 'node.name = %s\nnode.tpgt = 1\nnode.startup = automatic\nnode.conn[0].address = 127.0.0.1\nnode.conn[0].port = %s\n' \
		"$iqn" "$port" >"$root/nodes/$iqn/127.0.0.1,$port,1/default"
	"$build/initiator/kura-initiatord" --root "$root" --ctl-sock "$dir/ini.sock" \
		--fuse-dir "$dir/lu" >"$dir/initiatord.log" 2>&1 &
	echo $! >"$dir/initiatord.pid"
	for i in $(seq 1 100); do
		f=$(ls "$dir/lu"/naa.* 2>/dev/null | head -1)
		[ -n "$f" ] && break
		sleep 0.1
	done
	[ -n "$f" ] || return 1
	losetup --direct-io=on -f --show "$f"
}

# ha_sanlock_daemon RUNDIR SHIM: start one simulated host's sanlock daemon.
ha_sanlock_daemon() {
	mkdir -p "$1"
	SANLOCK_RUN_DIR=$1 LD_PRELOAD=$2 setsid sanlock daemon -w 0 -l 0 -D -U root -G root \
		>"$1/daemon.log" 2>&1 </dev/null &
	local i
	for i in $(seq 1 50); do [ -S "$1/sanlock.sock" ] && return 0; sleep 0.1; done
	return 1
}

slc() { local run=$1; shift; SANLOCK_RUN_DIR=$run sanlock client "$@"; }

# ha_sanlock_cluster DIR DEV K: trial K's two hosts, lockspace, and host 1
# holding the lease (pid of the holder in DIR/k$K/holder.pid).
ha_sanlock_cluster() {
	local d=$1/k$3 dev=$2 off=$((($3 - 1) * 2097152))
	local ls="LS$3" res="LS$3:vm:$dev:$((off + 1048576))"
	ha_sanlock_daemon "$d/a" "$SHIM" && ha_sanlock_daemon "$d/b" "$SHIM" || return 1
	slc "$d/a" init -s "$ls:0:$dev:$off" >/dev/null &&
		slc "$d/a" init -r "$res" >/dev/null || return 1
	slc "$d/a" add_lockspace -s "$ls:1:$dev:$off" >/dev/null &
	local pa=$!
	slc "$d/b" add_lockspace -s "$ls:2:$dev:$off" >/dev/null || return 1
	wait "$pa" || return 1
	SANLOCK_RUN_DIR=$d/a setsid sanlock client command -r "$res" -c /bin/sleep 100000 \
		>"$d/holder.log" 2>&1 </dev/null &
	echo $! >"$d/holder.pid"
	echo "$res" >"$d/res"
}

# ha_sanlock_takeover DIR K T0: host 2 of trial K retries until it holds
# the lease; prints seconds since T0 (date +%s.%N).
ha_sanlock_takeover() {
	local d=$1/k$2 t0=$3 res
	res=$(cat "$d/res")
	until slc "$d/b" command -r "$res" -c /bin/true >/dev/null 2>&1; do sleep 0.5; done
	echo "$(date +%s.%N) - $t0" | bc
}

# ha_sanlock_trials DIR DEV N: N trials side by side; one duration per line.
ha_sanlock_trials() {
	local dir=$1 dev=$2 n=$3 k t0 pids=()
	SHIM=$(ha_sanlock_shim "$dir") || { echo "sanlock: cannot build the setrlimit shim" >&2; return 1; }
	# Wait for these subshells only: the caller's daemons are children too.
	for k in $(seq 1 "$n"); do ha_sanlock_cluster "$dir" "$dev" "$k" & pids+=($!); done
	wait "${pids[@]}"
	pids=()
	for k in $(seq 1 "$n"); do
		slc "$dir/k$k/a" status 2>/dev/null | grep -q '^r ' ||
			{ echo "sanlock trial $k: host 1 holds no lease" >&2; return 1; }
	done
	t0=$(date +%s.%N)
	for k in $(seq 1 "$n"); do
		kill -9 "$(cat "$dir/k$k/a/sanlock.pid")" "$(cat "$dir/k$k/holder.pid")" 2>/dev/null
		pkill -9 -P "$(cat "$dir/k$k/holder.pid")" 2>/dev/null
	done
	for k in $(seq 1 "$n"); do ha_sanlock_takeover "$dir" "$k" "$t0" >"$dir/k$k/took" & pids+=($!); done
	wait "${pids[@]}"
	cat "$dir"/k*/took
}

# ha_sanlock_stop DIR: stop every sanlock daemon started under DIR.
ha_sanlock_stop() {
	local p
	for p in "$1"/k*/*/sanlock.pid; do
		[ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null
	done
	pkill -9 -f 'sleep 100000' 2>/dev/null || true
}
