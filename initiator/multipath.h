/* SPDX-License-Identifier: Apache-2.0 */
/* kura-multipath: multipath-tools' `multipath -ll` and multipathd's
 * `show paths|maps`, `fail path`, `reinstate path` for kura-initiatord's
 * LUs, over its control socket (verbs MAPS, PATH-FAIL, PATH-REINSTATE,
 * FAIL-QUEUE in ctl_proto.h).
 *
 *   multipath_cli.c   command line, requests, exit codes
 *   multipath_fmt.c   the layouts (-ll tree, column tables, --json)
 *
 * Not for: the daemon side (mpath_report.c).
 */
#ifndef KURA_MULTIPATH_H
#define KURA_MULTIPATH_H
#include <stdbool.h>
#include <stdio.h>

#define MP_MAX_PATHS 8

struct mp_path {
	int sid, lun, tpgt, alua, group;
	unsigned port;
	char target[224], address[64], state[16], isid[16];
	bool admin_failed, active;
};

struct mp_map {
	char wwid[40], alias[300], device[300], vendor[9], product[17], policy[16], queue[8];
	unsigned long long size;
	bool alua;
	int queued, no_path_retry_s;
	struct mp_path paths[MP_MAX_PATHS];
	int n_paths;
};

/* multipath-tools' words for a path (multipath -ll, show paths). */
const char *mp_dm_st(const struct mp_path *p);
const char *mp_chk_st(const struct mp_path *p);
const char *mp_dev_st(const struct mp_path *p);
int mp_prio(const struct mp_map *m, const struct mp_path *p);

void mp_print_ll(FILE *f, const struct mp_map *maps, int n);
void mp_print_paths(FILE *f, const struct mp_map *maps, int n, bool json);
void mp_print_maps(FILE *f, const struct mp_map *maps, int n, bool json);

int kura_multipath_main(int argc, char **argv);
#endif
