/* The admin socket's storage requests (admin.h): `raid status|scrub|fail|
 * add-spare` and `pool status`, text or JSON.
 *
 * The work itself runs on storage.c's control thread (tgt_storage_raid_*:
 * posted to its loop, this thread waits for the answer); here are only
 * argument checks and output. The file stand-ins of docs/storage.md
 * (storage.status, raid-NAME.scrub) keep working beside these requests.
 *
 * Not for: RAID / thin logic (lun-backends/), the control thread (storage.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "target/admin.h"
#include "target/storage.h"

static const char *const raid_state_names[] = { "clean", "dirty", "degraded", "failed" };

static const char *member_state(const struct lun_raid_status *st, int i)
{
	if (!st->member[i].present)
		return "missing";
	switch (st->member[i].state) {
	case LUN_RAID_M_ACTIVE: return "active";
	case LUN_RAID_M_REBUILDING: return "rebuilding";
	default: return "failed";
	}
}

static const char *tf(bool b) { return b ? "true" : "false"; }

static int find_raid(const struct tgt_config *cfg, const char *name, const char **why)
{
	for (int i = 0; i < cfg->n_raids; i++)
		if (!strcmp(cfg->raids[i].name, name))
			return i;
	*why = "no such raid";
	return -ENOENT;
}

static int find_pool(const struct tgt_config *cfg, const char *name, const char **why)
{
	for (int i = 0; i < cfg->n_pools; i++)
		if (!strcmp(cfg->pools[i].name, name))
			return i;
	*why = "no such pool";
	return -ENOENT;
}

/* ---- raid status ---- */

static void raid_text(FILE *f, const char *name, const struct tgt_raid_info *in)
{
	const struct lun_raid_status *s = &in->st;
	int active = 0, failed = 0;
	if (in->failed) {
		fprintf(f, "%s state=failed reason=\"%s\"\n", name, in->why);
		return;
	}
	for (int i = 0; i < s->nmembers; i++) {
		active += s->member[i].state == LUN_RAID_M_ACTIVE;
		failed += s->member[i].state == LUN_RAID_M_FAILED;
	}
	fprintf(f, "%s state=%s level=%d chunk=%u size=%" PRIu64 " members=%d active=%d failed=%d spares=%d "
		"rebuilding=%d rebuild_role=%d rebuild_pct=%u resyncing=%d resync_pct=%u scrubbing=%d "
		"scrub_pct=%u scrub_units=%" PRIu64 " scrub_mismatches=%" PRIu64 " scrub_repaired=%" PRIu64
		" dirty_regions=%" PRIu64 " last_rebuild_s=%.2f last_rebuild_mib_s=%.1f\n",
		name, raid_state_names[s->state], s->level, s->chunk, s->size, s->nmembers, active, failed,
		s->nspares, s->rebuilding, s->rebuild_role, s->rebuild_pct, s->resyncing, s->resync_pct,
		s->scrubbing, s->scrub_pct, s->scrub_units, s->scrub_mismatches, s->scrub_repaired,
		s->dirty_regions, in->last_rebuild_s, in->last_rebuild_mib_s);
	for (int i = 0; i < s->nmembers; i++)
		fprintf(f, "  role=%d state=%s path=%s\n", i, member_state(s, i), s->member[i].path);
}

static void raid_json(FILE *f, const char *name, const struct tgt_raid_info *in)
{
	const struct lun_raid_status *s = &in->st;
	fputs("{\"name\":", f);
	admin_json_str(f, name);
	if (in->failed) {
		fputs(",\"state\":\"failed\",\"reason\":", f);
		admin_json_str(f, in->why);
		fputs("}", f);
		return;
	}
	fprintf(f, ",\"state\":\"%s\",\"level\":%d,\"chunk\":%u,\"size\":%" PRIu64 ",\"members\":[",
		raid_state_names[s->state], s->level, s->chunk, s->size);
	for (int i = 0; i < s->nmembers; i++) {
		fprintf(f, "%s{\"role\":%d,\"state\":\"%s\",\"path\":", i ? "," : "", i, member_state(s, i));
		admin_json_str(f, s->member[i].path);
		fputc('}', f);
	}
	fprintf(f, "],\"spares\":%d,\"rebuild\":{\"running\":%s,\"role\":%d,\"pct\":%u,\"last_s\":%.2f,"
		"\"last_mib_s\":%.1f},\"resync\":{\"running\":%s,\"pct\":%u},\"scrub\":{\"running\":%s,"
		"\"pct\":%u,\"units\":%" PRIu64 ",\"mismatches\":%" PRIu64 ",\"repaired\":%" PRIu64 "},"
		"\"dirty_regions\":%" PRIu64 "}",
		s->nspares, tf(s->rebuilding), s->rebuild_role, s->rebuild_pct, in->last_rebuild_s,
		in->last_rebuild_mib_s, tf(s->resyncing), s->resync_pct, tf(s->scrubbing), s->scrub_pct,
		s->scrub_units, s->scrub_mismatches, s->scrub_repaired, s->dirty_regions);
}

static int raid_one(struct tgt_config *cfg, int idx, FILE *f, bool json, const char **why)
{
	static struct tgt_raid_info in;     /* admin thread only; ~9 KiB */
	int r = tgt_storage_raid_info(cfg, idx, &in);
	*why = "storage control thread not running";
	if (r < 0)
		return r;
	(json ? raid_json : raid_text)(f, cfg->raids[idx].name, &in);
	return 0;
}

static int raid_status(struct tgt_config *cfg, const struct admin_cmd *c, FILE *f, const char **why)
{
	if (c->argc == 3) {
		int i = find_raid(cfg, c->argv[2], why);
		int r = i < 0 ? i : raid_one(cfg, i, f, c->json, why);
		if (r == 0 && c->json)
			fputc('\n', f);
		return r;
	}
	fputs(c->json ? "[" : "", f);
	for (int i = 0; i < cfg->n_raids; i++) {
		fputs(c->json && i ? "," : "", f);
		int r = raid_one(cfg, i, f, c->json, why);
		if (r < 0)
			return r;
	}
	fputs(c->json ? "]\n" : "", f);
	return 0;
}

/* ---- raid scrub / fail / add-spare ---- */

static int raid_scrub(struct tgt_config *cfg, const struct admin_cmd *c, FILE *f, const char **why)
{
	bool repair = c->argc == 4 && !strcmp(c->argv[3], "--repair");
	*why = "usage: raid scrub NAME [--repair]";
	if (c->argc != 3 && !repair)
		return -EINVAL;
	int i = find_raid(cfg, c->argv[2], why);
	int r = i < 0 ? i : tgt_storage_raid_scrub(cfg, i, repair);
	if (r == -EBUSY)
		*why = "a resync, rebuild or scrub is running; try again when it has finished";
	else if (r == -ENODEV)
		*why = "the array is not assembled";
	else if (r == 0)
		fprintf(f, "scrub (%s) of %s started\n", repair ? "repair" : "check", c->argv[2]);
	return r;
}

static int raid_fail(struct tgt_config *cfg, const struct admin_cmd *c, FILE *f, const char **why)
{
	char *end;
	*why = "usage: raid fail NAME ROLE";
	if (c->argc != 4)
		return -EINVAL;
	long role = strtol(c->argv[3], &end, 10);
	*why = "bad role";
	if (*end || role < 0 || role >= LUN_RAID_MAX_MEMBERS)
		return -EINVAL;
	int i = find_raid(cfg, c->argv[2], why);
	int r = i < 0 ? i : tgt_storage_raid_fail(cfg, i, (int)role);
	if (r == -EINVAL)
		*why = "no such role";
	else if (r == -EALREADY)
		*why = "role already failed";
	else if (r == -ENODEV)
		*why = "the array is not assembled";
	else if (r == 0)
		fprintf(f, "role %ld of %s failed\n", role, c->argv[2]);
	return r;
}

static int raid_add_spare(struct tgt_config *cfg, const struct admin_cmd *c, FILE *f, const char **why)
{
	static char err[256];     /* admin thread only; *why may point here */
	*why = "usage: raid add-spare NAME PATH";
	if (c->argc != 4)
		return -EINVAL;
	int i = find_raid(cfg, c->argv[2], why);
	int r = i < 0 ? i : tgt_storage_raid_add_spare(cfg, i, c->argv[3], err, sizeof(err));
	if (r == -ENODEV && !err[0])
		*why = "the array is not assembled";
	else if (r < 0 && i >= 0)
		*why = err[0] ? err : "cannot add the spare";
	else if (r == 0)
		fprintf(f, "spare %s added to %s\n", c->argv[3], c->argv[2]);
	return r;
}

static const struct {
	const char *name;
	int (*fn)(struct tgt_config *, const struct admin_cmd *, FILE *, const char **);
} raid_cmds[] = {
	{ "status", raid_status }, { "scrub", raid_scrub },
	{ "fail", raid_fail },     { "add-spare", raid_add_spare },
};

int admin_storage_raid(struct tgt_config *cfg, const struct admin_cmd *c, FILE *f, const char **why)
{
	*why = "usage: raid status [NAME] | scrub NAME [--repair] | fail NAME ROLE | add-spare NAME PATH";
	if (c->argc < 2 || (c->argc > 3 && !strcmp(c->argv[1], "status")))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(raid_cmds) / sizeof(raid_cmds[0]); i++)
		if (!strcmp(c->argv[1], raid_cmds[i].name))
			return raid_cmds[i].fn(cfg, c, f, why);
	return -EINVAL;
}

/* ---- pool status ---- */

static void pool_out(FILE *f, const char *name, const struct tgt_pool_info *in, bool json)
{
	const struct lun_thin_pool_status *s = &in->st;
	if (in->failed && json) {
		fputs("{\"name\":", f);
		admin_json_str(f, name);
		fputs(",\"state\":\"failed\",\"reason\":", f);
		admin_json_str(f, in->why);
		fputc('}', f);
	} else if (in->failed) {
		fprintf(f, "%s state=failed reason=\"%s\"\n", name, in->why);
	} else if (json) {
		fputs("{\"name\":", f);
		admin_json_str(f, name);
		fprintf(f, ",\"state\":\"%s\",\"chunk_size\":%u,\"chunks\":{\"total\":%" PRIu64 ",\"used\":%" PRIu64
			",\"free\":%" PRIu64 "},\"volumes\":%u,\"virtual_bytes\":%" PRIu64 ",\"overcommit\":%.3f,"
			"\"low_water\":%" PRIu64 ",\"low_water_events\":%" PRIu64 "}",
			s->failed ? "failed" : "ok", s->chunk_size, s->chunks_total, s->chunks_used, s->chunks_free,
			s->volumes, s->virtual_bytes, s->overcommit, s->low_water, s->low_water_events);
	} else {
		fprintf(f, "%s state=%s chunk_size=%u chunks_total=%" PRIu64 " chunks_used=%" PRIu64
			" chunks_free=%" PRIu64 " volumes=%u virtual_bytes=%" PRIu64 " overcommit=%.3f low_water=%"
			PRIu64 " low_water_events=%" PRIu64 "\n", name, s->failed ? "failed" : "ok", s->chunk_size,
			s->chunks_total, s->chunks_used, s->chunks_free, s->volumes, s->virtual_bytes,
			s->overcommit, s->low_water, s->low_water_events);
	}
}

int admin_storage_pool(struct tgt_config *cfg, const struct admin_cmd *c, FILE *f, const char **why)
{
	struct tgt_pool_info in;
	*why = "usage: pool status [NAME] [--json]";
	if (c->argc < 2 || c->argc > 3 || strcmp(c->argv[1], "status"))
		return -EINVAL;
	int from = 0, to = cfg->n_pools;
	if (c->argc == 3 && (from = find_pool(cfg, c->argv[2], why)) < 0)
		return from;
	to = c->argc == 3 ? from + 1 : to;
	bool list = c->json && c->argc == 2;
	fputs(list ? "[" : "", f);
	for (int i = from; i < to; i++) {
		int r = tgt_storage_pool_info(cfg, i, &in);
		*why = "storage control thread not running";
		if (r < 0)
			return r;
		fputs(list && i ? "," : "", f);
		pool_out(f, cfg->pools[i].name, &in, c->json);
	}
	fputs(list ? "]\n" : c->json ? "\n" : "", f);
	return 0;
}
