/* SPDX-License-Identifier: Apache-2.0 */
/* kura-thin-check: check (and with --repair, fix) a thin pool's metadata.
 *
 * Opens the pool as the daemon would (newest valid checkpoint, journal
 * replay; opening writes a fresh checkpoint and rewrites any metadata block
 * it recovered from its redundant copy), prints its status and the damage
 * the open found, runs lun_thin_check() and closes it. Run it only while no
 * daemon uses the pool.
 *
 * A pool whose damage the redundancy cannot repair (a journal block bad in
 * both copies with acknowledged blocks after it) does not open: exit 2 with
 * the block named. --repair then opens it without those blocks (salvage),
 * saying what was dropped.
 *
 * Exit status: 0 consistent (or repaired without loss), 1 problems found
 * (metadata damage repaired from a copy, without --repair; inconsistencies
 * not repaired; or acknowledged journal blocks dropped by --repair),
 * 2 cannot open.
 *
 * Not for: editing volumes or salvaging data from a pool that will not open.
 */
#include "lun-backends/thin/lun_thin.h"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kura-thin-check [--repair] METADATA-FILE DATA-FILE\n"
		"  exit 0: consistent (or repaired without loss); 1: problems found\n"
		"  (damage repaired from a redundant copy, inconsistencies, or journal\n"
		"  blocks dropped by --repair); 2: cannot open (unrepairable damage is\n"
		"  named; --repair opens the pool without what follows it)\n");
}

static void print_status(struct lun_thin_pool *pool)
{
	struct lun_thin_pool_status st;
	lun_thin_pool_status(pool, &st);
	printf("chunk size %u, chunks %llu total, %llu used, %llu free; %u volumes, "
	       "%llu virtual bytes (overcommit %.2f)\n",
	       st.chunk_size, (unsigned long long)st.chunks_total,
	       (unsigned long long)st.chunks_used, (unsigned long long)st.chunks_free, st.volumes,
	       (unsigned long long)st.virtual_bytes, st.overcommit);
}

/* What the open found: 1 if it counts as a problem. */
static int damage(const struct lun_thin_check_report *r, bool repair)
{
	if (r->lost_blocks) {
		printf("metadata damage: LOST %llu acknowledged journal block(s), %llu records "
		       "(%s)\n",
		       (unsigned long long)r->lost_blocks, (unsigned long long)r->lost_records,
		       r->damage);
		return 1;
	}
	if (!r->damaged_blocks) {
		printf("metadata damage: none\n");
		return 0;
	}
	printf("metadata damage: %u block(s), repaired from their copies (first: %s)\n",
	       r->damaged_blocks, r->damage);
	return repair ? 0 : 1;
}

static int check(struct lun_thin_pool *pool, bool repair)
{
	struct lun_thin_check_report r;
	int e = lun_thin_check(pool, repair, &r);
	printf("bad mappings %llu, bad refcounts %llu, free and mapped %llu, leaked %llu%s\n",
	       (unsigned long long)r.bad_mappings, (unsigned long long)r.bad_refcounts,
	       (unsigned long long)r.free_and_mapped, (unsigned long long)r.leaked,
	       r.repaired ? ": repaired" : "");
	if (e && e != -EUCLEAN)
		fprintf(stderr, "kura-thin-check: %s\n", strerror(-e));
	return damage(&r, repair) || e ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "repair", no_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	bool repair = false;
	int c;
	while ((c = getopt_long(argc, argv, "rh", opts, NULL)) != -1) {
		if (c == 'r')
			repair = true;
		else {
			usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	char err[512];
	struct lun_backend *data;
	struct lun_backend_params dp = { .type = "file",
					 .path = argv[optind + 1],
					 .block_size = 512 };
	if (lun_backend_open(&dp, &data, err, sizeof(err))) {
		fprintf(stderr, "kura-thin-check: %s\n", err);
		return 2;
	}
	struct lun_thin_pool *pool;
	struct lun_thin_pool_params pp = { .meta_path = argv[optind],
					   .data = data,
					   .salvage = repair };
	if (lun_thin_pool_open(&pp, &pool, err, sizeof(err))) {
		fprintf(stderr, "kura-thin-check: %s\n", err);
		lun_backend_close(data);
		return 2;
	}
	print_status(pool);
	int rc = check(pool, repair);
	if (lun_thin_pool_close(pool))
		rc = rc ? rc : 1;
	lun_backend_close(data);
	return rc;
}
