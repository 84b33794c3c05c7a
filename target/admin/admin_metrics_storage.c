/* SPDX-License-Identifier: Apache-2.0 */
/* The pool and array families of the `metrics` request (admin_metrics.c):
 * one tgt_storage_pool_info / tgt_storage_raid_info per pool and array (a
 * request to the storage control thread each), printed as gauges and
 * counters labelled pool="NAME" / array="NAME".
 *
 * Not for: the pool / raid status requests (admin_storage.c).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "target/admin/admin_metrics.h"
#include "target/model/model.h"
#include "target/model/storage.h"

/* ---- pools ---- */
struct mpool {
	const char *name;
	bool ok;
	struct tgt_pool_info in;
};

struct pool_field {
	const char *name, *type, *help;
	double (*value)(const struct lun_thin_pool_status *s);
};

static double p_data(const struct lun_thin_pool_status *s)
{
	return (double)s->chunks_total * s->chunk_size;
}
static double p_used(const struct lun_thin_pool_status *s)
{
	return (double)s->chunks_used * s->chunk_size;
}
static double p_free(const struct lun_thin_pool_status *s)
{
	return (double)s->chunks_free * s->chunk_size;
}
static double p_virtual(const struct lun_thin_pool_status *s)
{
	return (double)s->virtual_bytes;
}
static double p_over(const struct lun_thin_pool_status *s)
{
	return s->overcommit;
}
static double p_usage(const struct lun_thin_pool_status *s)
{
	return s->chunks_total ? (double)s->chunks_used / (double)s->chunks_total : 0;
}
static double p_chunk(const struct lun_thin_pool_status *s)
{
	return s->chunk_size;
}
static double p_chunks_used(const struct lun_thin_pool_status *s)
{
	return (double)s->chunks_used;
}
static double p_chunks_free(const struct lun_thin_pool_status *s)
{
	return (double)s->chunks_free;
}
static double p_volumes(const struct lun_thin_pool_status *s)
{
	return s->volumes;
}
static double p_lw(const struct lun_thin_pool_status *s)
{
	return (double)s->low_water;
}
static double p_below(const struct lun_thin_pool_status *s)
{
	return s->low_water && s->chunks_free < s->low_water;
}
static double p_lw_events(const struct lun_thin_pool_status *s)
{
	return (double)s->low_water_events;
}
static double p_failed(const struct lun_thin_pool_status *s)
{
	return s->failed;
}

static const struct pool_field pool_fields[] = {
	{ "kura_pool_data_bytes", "gauge", "Data capacity of the pool.", p_data },
	{ "kura_pool_used_bytes", "gauge", "Data bytes mapped by volumes (or not yet reusable).",
	  p_used },
	{ "kura_pool_free_bytes", "gauge", "Data bytes allocatable now.", p_free },
	{ "kura_pool_virtual_bytes", "gauge", "Sum of the sizes of the pool's volumes.",
	  p_virtual },
	{ "kura_pool_overcommit_ratio", "gauge", "Virtual bytes over data bytes.", p_over },
	{ "kura_pool_usage_ratio", "gauge", "Used chunks over all data chunks (0 to 1).", p_usage },
	{ "kura_pool_chunk_size_bytes", "gauge", "Allocation unit of the pool.", p_chunk },
	{ "kura_pool_chunks_used", "gauge", "Data chunks mapped (or not yet reusable).",
	  p_chunks_used },
	{ "kura_pool_chunks_free", "gauge", "Data chunks allocatable now.", p_chunks_free },
	{ "kura_pool_volumes", "gauge", "Volumes, snapshots and clones in the pool.", p_volumes },
	{ "kura_pool_low_water_chunks", "gauge",
	  "Free-chunk threshold of the low-water mark (0: off).", p_lw },
	{ "kura_pool_below_low_water", "gauge", "1 while free chunks are below the low-water mark.",
	  p_below },
	{ "kura_pool_low_water_events_total", "counter",
	  "Times free chunks fell below the low-water mark since the pool opened.", p_lw_events },
	{ "kura_pool_metadata_failed", "gauge",
	  "1 once a metadata write failed (allocation refused).", p_failed },
};

static void metrics_pools(struct tgt_model *m, FILE *f)
{
	int n = m->stack.n_pools;
	struct mpool *v = calloc((size_t)n + 1, sizeof(*v));
	for (int i = 0; v && i < n; i++) {
		v[i].name = m->stack.pools[i].name;
		v[i].ok = tgt_storage_pool_info(m, i, &v[i].in) == 0 && !v[i].in.failed;
	}
	prom_family(f, "kura_pool_up", "gauge", "1 if the pool opened and answers, else 0.");
	for (int i = 0; v && i < n; i++) {
		fputs("kura_pool_up{pool=", f);
		prom_value(f, v[i].name);
		fprintf(f, "} %d\n", v[i].ok);
	}
	for (size_t k = 0; v && k < sizeof(pool_fields) / sizeof(pool_fields[0]); k++) {
		const struct pool_field *pf = &pool_fields[k];
		prom_family(f, pf->name, pf->type, pf->help);
		for (int i = 0; i < n; i++) {
			if (!v[i].ok)
				continue;
			fprintf(f, "%s{pool=", pf->name);
			prom_value(f, v[i].name);
			fprintf(f, "} %.17g\n", pf->value(&v[i].in.st));
		}
	}
	free(v);
}

/* ---- arrays ---- */
struct marray {
	const char *name;
	bool ok;
	struct tgt_raid_info in;
};

static const char *const array_states[] = { "clean", "dirty", "degraded", "failed" };

static void array_labels(FILE *f, const struct marray *a)
{
	fputs("{array=", f);
	prom_value(f, a->name);
}

static void array_state(FILE *f, const struct marray *v, int n)
{
	prom_family(f, "kura_array_state", "gauge",
		    "1 for the array's current state, 0 for the others (failed: did not open).");
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 4; k++) {
			int cur = v[i].ok ? (int)v[i].in.st.state : 3;
			fputs("kura_array_state", f);
			array_labels(f, &v[i]);
			fprintf(f, ",state=\"%s\"} %d\n", array_states[k], cur == k);
		}
}

static int members_in(const struct lun_raid_status *s, const char *what)
{
	int n = 0;
	for (int i = 0; i < s->nmembers; i++) {
		bool missing = !s->member[i].present;
		const char *st = missing                                       ? "missing"
				 : s->member[i].state == LUN_RAID_M_ACTIVE     ? "active"
				 : s->member[i].state == LUN_RAID_M_REBUILDING ? "rebuilding"
									       : "failed";
		n += !strcmp(st, what);
	}
	return n;
}

static void array_members(FILE *f, const struct marray *v, int n)
{
	static const char *const ms[] = { "active", "rebuilding", "failed", "missing" };
	prom_family(f, "kura_array_members", "gauge", "Members of the array by state.");
	for (int i = 0; i < n; i++)
		for (int k = 0; v[i].ok && k < 4; k++) {
			fputs("kura_array_members", f);
			array_labels(f, &v[i]);
			fprintf(f, ",state=\"%s\"} %d\n", ms[k], members_in(&v[i].in.st, ms[k]));
		}
}

struct array_field {
	const char *name, *type, *help;
	double (*value)(const struct tgt_raid_info *in);
};

static double a_size(const struct tgt_raid_info *in)
{
	return (double)in->st.size;
}
static double a_level(const struct tgt_raid_info *in)
{
	return in->st.level;
}
static double a_spares(const struct tgt_raid_info *in)
{
	return in->st.nspares;
}
static double a_rebuilding(const struct tgt_raid_info *in)
{
	return in->st.rebuilding;
}
static double a_rebuild(const struct tgt_raid_info *in)
{
	return in->st.rebuilding ? in->st.rebuild_pct / 100.0 : 0;
}
static double a_resyncing(const struct tgt_raid_info *in)
{
	return in->st.resyncing;
}
static double a_resync(const struct tgt_raid_info *in)
{
	return in->st.resyncing ? in->st.resync_pct / 100.0 : 0;
}
static double a_scrubbing(const struct tgt_raid_info *in)
{
	return in->st.scrubbing;
}
static double a_scrub(const struct tgt_raid_info *in)
{
	return in->st.scrub_pct / 100.0;
}
static double a_mismatch(const struct tgt_raid_info *in)
{
	return (double)in->st.scrub_mismatches;
}
static double a_repaired(const struct tgt_raid_info *in)
{
	return (double)in->st.scrub_repaired;
}
static double a_dirty(const struct tgt_raid_info *in)
{
	return (double)in->st.dirty_regions;
}
static double a_last_rebuild(const struct tgt_raid_info *in)
{
	return in->last_rebuild_s;
}

static const struct array_field array_fields[] = {
	{ "kura_array_size_bytes", "gauge", "Usable capacity of the array.", a_size },
	{ "kura_array_level", "gauge", "RAID level (0, 1, 5, 6, 10).", a_level },
	{ "kura_array_spares", "gauge", "Hot spares waiting.", a_spares },
	{ "kura_array_rebuilding", "gauge", "1 while a member is being rebuilt.", a_rebuilding },
	{ "kura_array_rebuild_progress_ratio", "gauge", "Progress of the running rebuild (0 to 1).",
	  a_rebuild },
	{ "kura_array_resyncing", "gauge", "1 while a resync after an unclean stop runs.",
	  a_resyncing },
	{ "kura_array_resync_progress_ratio", "gauge", "Progress of the running resync (0 to 1).",
	  a_resync },
	{ "kura_array_scrubbing", "gauge", "1 while a scrub runs.", a_scrubbing },
	{ "kura_array_scrub_progress_ratio", "gauge",
	  "Progress of the running scrub, or where the last one ended (0 to 1).", a_scrub },
	{ "kura_array_scrub_mismatches", "gauge", "Mismatches found by the last or running scrub.",
	  a_mismatch },
	{ "kura_array_scrub_repaired", "gauge", "Mismatches repaired by the last or running scrub.",
	  a_repaired },
	{ "kura_array_dirty_regions", "gauge", "Regions set in the write-intent bitmap.", a_dirty },
	{ "kura_array_last_rebuild_seconds", "gauge", "Duration of the last finished rebuild.",
	  a_last_rebuild },
};

static void metrics_arrays(struct tgt_model *m, FILE *f)
{
	int n = m->stack.n_raids;
	struct marray *v = calloc((size_t)n + 1, sizeof(*v));
	if (!v)
		return;
	for (int i = 0; i < n; i++) {
		v[i].name = m->stack.raids[i].name;
		v[i].ok = tgt_storage_raid_info(m, i, &v[i].in) == 0 && !v[i].in.failed;
	}
	array_state(f, v, n);
	array_members(f, v, n);
	for (size_t k = 0; k < sizeof(array_fields) / sizeof(array_fields[0]); k++) {
		const struct array_field *af = &array_fields[k];
		prom_family(f, af->name, af->type, af->help);
		for (int i = 0; i < n; i++) {
			if (!v[i].ok)
				continue;
			fputs(af->name, f);
			array_labels(f, &v[i]);
			fprintf(f, "} %.17g\n", af->value(&v[i].in));
		}
	}
	free(v);
}

void admin_metrics_storage(struct tgt_model *m, FILE *f)
{
	metrics_pools(m, f);
	metrics_arrays(m, f);
}
