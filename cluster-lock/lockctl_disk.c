/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lockctl_disk.c: `kura-lockctl format [--force]` and `kura-lockctl dump
 * [--json]`: work on the HA LUN directly, without a daemon. kura-lockctl's
 * main (lockctl.c) parses the options and the configuration and calls
 * lockctl_format() / lockctl_dump(); these return its exit codes
 * (0 ok, 1 refused or configuration error, 4 HA LUN unreachable).
 * Not for daemon commands.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/json.h"
#include "cluster-lock/lock_internal.h"
#include "cluster-lock/lock_scsi.h"


static int exit_code(int rc)
{
	if (rc == 0)
		return 0;
	if (rc == LOCK_E_UNREACHABLE || rc == -ETIMEDOUT || rc == -ECONNRESET || rc == -ENOTCONN)
		return LOCKD_EX_UNREACHABLE;
	return LOCKD_EX_USAGE;
}

static void wall_str(int64_t t, char *buf, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, cap, "-");
}

static void uuid_str(const uint8_t *u, char *buf)
{
	snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

static struct lock_ha *open_ha(const struct lock_ha_params *p, FILE *err, int *rc)
{
	struct lock_ha_params q = *p;
	q.host_id = 0;
	struct lock_ha *h = lock_ha_open(&q, rc);
	if (!h)
		fprintf(err, "kura-lockctl: HA LUN: %s\n", lock_strerror(*rc));
	return h;
}

/* ---- format ---- */
static void format_refusal(int rc, const struct lock_header *old, FILE *err)
{
	if (rc == LOCK_E_FOREIGN)
		fprintf(err,
			"kura-lockctl: the HA LUN holds the header of cluster '%s': "
			"refusing to format it (use --force to destroy it)\n",
			old->cluster);
	else if (rc == LOCK_E_CORRUPT)
		fprintf(err,
			"kura-lockctl: the HA LUN holds data that is not a valid kura lock "
			"header: refusing to format it (use --force)\n");
	else
		fprintf(err, "kura-lockctl: format: %s\n", lock_strerror(rc));
}

int lockctl_format(const struct lock_ha_params *p, bool force, FILE *out, FILE *err)
{
	int rc;
	struct lock_ha *h = open_ha(p, err, &rc);
	if (!h)
		return LOCKD_EX_USAGE;
	struct lock_header old, hdr;
	rc = lock_ha_read_header(h, &old);
	if (rc == LOCK_E_FOREIGN || rc == LOCK_E_CORRUPT || rc == 0 || rc == LOCK_E_UNFORMATTED)
		rc = (rc == LOCK_E_FOREIGN || rc == LOCK_E_CORRUPT) && !force ? rc : 0;
	if (!rc)
		rc = lock_ha_format(h, force);
	if (!rc)
		rc = lock_ha_read_header(h, &hdr);
	if (rc) {
		format_refusal(rc, &old, err);
	} else {
		char u[37];
		uuid_str(hdr.uuid, u);
		fprintf(out,
			"formatted HA LUN for cluster %s (uuid %s, %u-byte blocks, "
			"%u host slots, %u leases)\n",
			hdr.cluster, u, hdr.block_size, hdr.max_hosts, hdr.max_leases);
	}
	lock_ha_close(h);
	return exit_code(rc);
}

/* ---- dump, human-readable ---- */
static void text_header(const struct lock_header *h, FILE *out)
{
	char u[37], w[32];
	uuid_str(h->uuid, u);
	wall_str(h->formatted_wall, w, sizeof(w));
	fprintf(out,
		"cluster %s uuid %s tag %04x layout %u block %u hosts %u leases %u "
		"interval %u ms fail_after %u ms formatted %s\n",
		h->cluster, u, h->tag, h->layout_version, h->block_size, h->max_hosts,
		h->max_leases, h->hb_interval_ms, h->fail_after_ms, w);
}

static void text_slot(uint16_t id, const struct lock_slot *s, uint8_t st, FILE *out)
{
	char w[32];
	if (st != LOCK_REC_OK) {
		fprintf(out, "host %u: CORRUPT (bad checksum or fields; never taken as free)\n",
			id);
		return;
	}
	if (s->state == LOCK_SLOT_FREE && !s->incarnation)
		return;
	wall_str(s->wall, w, sizeof(w));
	fprintf(out,
		"host %u %s: %s incarnation %u counter %" PRIu64
		" interval %u ms "
		"fail_after %u ms fence_epoch %u",
		id, s->host_name[0] ? s->host_name : "-", lock_slot_state_name(s->state),
		s->incarnation, s->counter, s->hb_interval_ms, s->fail_after_ms, s->fence_epoch);
	if (s->fenced_by)
		fprintf(out, " fenced_by %u", s->fenced_by);
	fprintf(out, " written %s\n", w);
}

static const char *mig_name(uint16_t phase)
{
	return phase == LOCK_MIG_ACTIVE ? "active" : "none";
}

static void text_lease(uint32_t i, const struct lock_lease *l, uint8_t st, FILE *out)
{
	char w[32];
	if (st != LOCK_REC_OK) {
		fprintf(out, "lease %u: CORRUPT (bad checksum or fields; never taken as free)\n",
			i);
		return;
	}
	if (!l->vm[0])
		return;
	wall_str(l->wall, w, sizeof(w));
	fprintf(out, "lease %u %s: owner %u incarnation %u lver %" PRIu64 " migration %s", i, l->vm,
		l->owner, l->owner_incarnation, l->lver, mig_name(l->mig_phase));
	if (l->mig_phase)
		fprintf(out, " %u->%u", l->mig_src, l->mig_dst);
	fprintf(out, " fence_epoch %u changed %s\n", l->fence_epoch, w);
}

static void text_keys(const uint64_t *keys, int n, FILE *out)
{
	fprintf(out, "registered keys:");
	for (int i = 0; i < n; i++)
		fprintf(out, " %016" PRIx64 " (host %u incarnation %u)", keys[i],
			lock_key_host(keys[i]), lock_key_incarnation(keys[i]));
	fprintf(out, n > 0 ? "\n" : " none\n");
}

static void dump_text(const struct lock_image *img, const uint64_t *keys, int nk, FILE *out)
{
	text_header(&img->hdr, out);
	for (uint16_t id = 1; id <= LOCK_MAX_HOSTS; id++)
		text_slot(id, &img->slot[id], img->slot_status[id], out);
	for (uint32_t i = 0; i < LOCK_MAX_LEASES; i++)
		text_lease(i, &img->lease[i], img->lease_status[i], out);
	if (nk >= 0)
		text_keys(keys, nk, out);
}

/* ---- dump, JSON ---- */
static void json_header(const struct lock_header *h, FILE *out)
{
	char u[37];
	uuid_str(h->uuid, u);
	fprintf(out, "\"cluster\": {\"name\": ");
	kjson_str(out, h->cluster);
	fprintf(out,
		", \"uuid\": \"%s\", \"tag\": %u, \"layout_version\": %u, \"block_size\": %u, "
		"\"max_hosts\": %u, \"max_leases\": %u, \"heartbeat_interval_ms\": %u, "
		"\"fail_after_ms\": %u, \"formatted_wall\": %" PRId64 "}",
		u, h->tag, h->layout_version, h->block_size, h->max_hosts, h->max_leases,
		h->hb_interval_ms, h->fail_after_ms, h->formatted_wall);
}

static void json_slot(uint16_t id, const struct lock_slot *s, uint8_t st, FILE *out)
{
	if (st != LOCK_REC_OK) {
		fprintf(out, "{\"id\": %u, \"status\": \"corrupt\"}", id);
		return;
	}
	fprintf(out, "{\"id\": %u, \"status\": \"ok\", \"name\": ", id);
	kjson_str(out, s->host_name);
	fprintf(out,
		", \"state\": \"%s\", \"incarnation\": %u, \"counter\": %" PRIu64
		", "
		"\"heartbeat_interval_ms\": %u, \"fail_after_ms\": %u, \"fenced_by\": %u, "
		"\"fence_epoch\": %u, \"wall\": %" PRId64 "}",
		lock_slot_state_name(s->state), s->incarnation, s->counter, s->hb_interval_ms,
		s->fail_after_ms, s->fenced_by, s->fence_epoch, s->wall);
}

static void json_lease(uint32_t i, const struct lock_lease *l, uint8_t st, FILE *out)
{
	if (st != LOCK_REC_OK) {
		fprintf(out, "{\"index\": %u, \"status\": \"corrupt\"}", i);
		return;
	}
	fprintf(out, "{\"index\": %u, \"status\": \"ok\", \"vm\": ", i);
	kjson_str(out, l->vm);
	fprintf(out,
		", \"owner\": %u, \"owner_incarnation\": %u, \"lver\": %" PRIu64
		", "
		"\"migration\": {\"src\": %u, \"dst\": %u, \"phase\": \"%s\"}, "
		"\"fence_epoch\": %u, "
		"\"wall\": %" PRId64 "}",
		l->owner, l->owner_incarnation, l->lver, l->mig_src, l->mig_dst,
		mig_name(l->mig_phase), l->fence_epoch, l->wall);
}

static bool slot_shown(const struct lock_image *img, uint16_t id)
{
	return img->slot_status[id] != LOCK_REC_OK || img->slot[id].state != LOCK_SLOT_FREE ||
	       img->slot[id].incarnation;
}

static bool lease_shown(const struct lock_image *img, uint32_t i)
{
	return img->lease_status[i] != LOCK_REC_OK || img->lease[i].vm[0];
}

static void dump_json(const struct lock_image *img, const uint64_t *keys, int nk, FILE *out)
{
	const char *sep = "";
	fputc('{', out);
	json_header(&img->hdr, out);
	fprintf(out, ", \"hosts\": [");
	for (uint16_t id = 1; id <= LOCK_MAX_HOSTS; id++)
		if (slot_shown(img, id)) {
			fputs(sep, out);
			json_slot(id, &img->slot[id], img->slot_status[id], out);
			sep = ", ";
		}
	fprintf(out, "], \"leases\": [");
	sep = "";
	for (uint32_t i = 0; i < LOCK_MAX_LEASES; i++)
		if (lease_shown(img, i)) {
			fputs(sep, out);
			json_lease(i, &img->lease[i], img->lease_status[i], out);
			sep = ", ";
		}
	fprintf(out, "], \"keys\": [");
	for (int i = 0; i < nk; i++)
		fprintf(out, "%s\"%016" PRIx64 "\"", i ? ", " : "", keys[i]);
	fprintf(out, "]}\n");
}

int lockctl_dump(const struct lock_ha_params *p, bool json, FILE *out, FILE *err)
{
	int rc;
	struct lock_ha *h = open_ha(p, err, &rc);
	if (!h)
		return LOCKD_EX_USAGE;
	struct lock_image *img = malloc(sizeof(*img));
	uint64_t keys[256];
	rc = img ? lock_ha_read_all(h, img) : -ENOMEM;
	int nk = rc ? -1 : lock_lun_read_keys(h->lun, keys, 256, NULL);
	if (rc)
		fprintf(err, "kura-lockctl: dump: %s\n", lock_strerror(rc));
	else if (json)
		dump_json(img, keys, nk, out);
	else
		dump_text(img, keys, nk, out);
	free(img);
	lock_ha_close(h);
	return exit_code(rc);
}
