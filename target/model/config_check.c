/* SPDX-License-Identifier: Apache-2.0 */
/* kura-targetd --check-config's look at the paths a parsed configuration
 * names (tgt_config_check_paths): every LUN file or block device, pool data
 * and metadata file, RAID member and spare is opened read-only, as the
 * daemon will open it; one that does not exist must be one the daemon would
 * create (create = yes / size / member_size) in a directory that exists.
 * Each problem is one "FILE:LINE: ..." line, LINE the section's header.
 *
 * Not for: parsing (config.c), opening for real (model.c, lun-backends);
 * nothing here writes, creates or locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lun-backends/lun_stack.h"
#include "target/model/config_internal.h"

struct pcheck {
	const struct tgt_config *cfg;
	FILE *out;
	int problems;
};

static void problem(struct pcheck *pc, int line, const char *what, const char *path,
		    const char *why)
{
	if (line > 0)
		fprintf(pc->out, "%s:%d: %s %s: %s\n", pc->cfg->source, line, what, path, why);
	else
		fprintf(pc->out, "%s: %s %s: %s\n", pc->cfg->source, what, path, why);
	pc->problems++;
}

/* A path that will be created: its directory must exist (data_dir itself
 * is created at start). */
static const char *creatable(const struct tgt_config *cfg, const char *full)
{
	char dir[PATH_MAX + 4096];
	snprintf(dir, sizeof(dir), "%s", full);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return NULL;
	slash[slash == dir] = '\0';
	if (strcmp(dir, cfg->data_dir) == 0)
		return NULL;
	struct stat st;
	if (stat(dir, &st) < 0)
		return errno == ENOENT ? "its directory does not exist" : strerror(errno);
	return S_ISDIR(st.st_mode) ? NULL : "its directory is not a directory";
}

/* p (relative to data_dir or absolute) opened read-only, or checked as one
 * to create when create is true. */
static void check_path(struct pcheck *pc, int line, const char *what, const char *p, bool create)
{
	char full[PATH_MAX + 4096];
	if (!lun_stack_path(pc->cfg->data_dir, p, full, sizeof(full)))
		return problem(pc, line, what, p, "path too long");
	struct stat st;
	if (stat(full, &st) < 0 && errno == ENOENT) {
		const char *why = create ? creatable(pc->cfg, full)
					 : "does not exist (and would not be created)";
		if (why)
			problem(pc, line, what, full, why);
		return;
	}
	int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return problem(pc, line, what, full, strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		problem(pc, line, what, full, "is a directory");
	close(fd);
}

static void check_luns(struct pcheck *pc)
{
	for (int t = 0; t < pc->cfg->n_targets; t++)
		for (int j = 0; j < pc->cfg->targets[t].n_luns; j++) {
			const struct tgt_lun_conf *l = &pc->cfg->targets[t].luns[j];
			if (l->backend.path)
				check_path(pc, l->stor.line, "LUN path", l->backend.path,
					   l->backend.create);
		}
}

static void check_stack(struct pcheck *pc)
{
	const struct lun_stack_conf *sc = &pc->cfg->stack;
	for (int i = 0; i < sc->n_raids; i++) {
		const struct lun_raid_conf *r = &sc->raids[i];
		bool make = r->member_size > 0;
		for (int m = 0; m < r->n_members; m++)
			check_path(pc, r->line, "RAID member", r->members[m], make && r->create);
		for (int m = 0; m < r->n_spares; m++)
			check_path(pc, r->line, "RAID spare", r->spares[m], make);
	}
	for (int i = 0; i < sc->n_pools; i++) {
		const struct lun_pool_conf *pl = &sc->pools[i];
		if (pl->data_raid < 0)
			check_path(pc, pl->line, "pool data", pl->data, pl->size > 0);
		check_path(pc, pl->line, "pool meta", pl->meta, true);
	}
}

static void check_data_dir(struct pcheck *pc)
{
	struct stat st;
	const char *what = pc->cfg->data_dir_line ? "data_dir" : "--data-dir / default data_dir";
	if (stat(pc->cfg->data_dir, &st) < 0) {
		if (errno != ENOENT)
			problem(pc, pc->cfg->data_dir_line, what, pc->cfg->data_dir,
				strerror(errno));
		return; /* created at start */
	}
	if (!S_ISDIR(st.st_mode))
		problem(pc, pc->cfg->data_dir_line, what, pc->cfg->data_dir, "not a directory");
}

int tgt_config_check_paths(const struct tgt_config *cfg, FILE *out)
{
	struct pcheck pc = { cfg, out, 0 };
	check_data_dir(&pc);
	check_luns(&pc);
	check_stack(&pc);
	return pc.problems;
}
