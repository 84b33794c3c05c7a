/* SPDX-License-Identifier: Apache-2.0 */
/* Two initiators, one per gateway, race COMPARE AND WRITE on the same blocks.
 *
 *   kura-ceph-client_caw_race URL1 URL2 ROUNDS LBA [LANES]
 *
 * A round: both initiators send, at the same time (both in flight before
 * either is polled), a CAW of one block whose compare data is the block's
 * current contents and whose write data is their own new value. Exactly
 * one must succeed; the other must get MISCOMPARE (sense key 0Eh). The
 * winner's value is the block's next round's compare data. LANES blocks
 * (default 8, one per RADOS object of 4 MiB from LBA on, so that the OSDs
 * work on several at once) race independently, ROUNDS rounds in all; at
 * the end a READ through each gateway checks every block holds its last
 * winner's value. Prints "block_size=N rounds=N ok=N both=N none=N other=N
 * a_wins=N bad_reads=N" and exits 0 only when every round had exactly one
 * success and every block reads back right.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define MAX_LANES 64
#define OBJ_BYTES (4u << 20)

static int lun, bs;
static long launched, rounds, ok, both, none, other, a_wins;

struct side {
	bool done;
	int status, key;
};

struct lane {
	uint64_t lba, cur, va, vb;
	struct side a, b;
	uint8_t *da, *db; /* compare + write data of each side */
	bool busy;
};

static struct iscsi_context *login(const char *url_s, const char *name)
{
	struct iscsi_context *c = iscsi_create_context(name);
	struct iscsi_url *url = iscsi_parse_full_url(c, url_s);
	if (!url) {
		fprintf(stderr, "bad url %s\n", url_s);
		exit(2);
	}
	iscsi_set_targetname(c, url->target);
	iscsi_set_session_type(c, ISCSI_SESSION_NORMAL);
	iscsi_set_noautoreconnect(c, 1);
	iscsi_set_timeout(c, 60);
	lun = url->lun;
	if (iscsi_full_connect_sync(c, url->portal, lun)) {
		fprintf(stderr, "login %s: %s\n", name, iscsi_get_error(c));
		exit(1);
	}
	iscsi_destroy_url(url);
	return c;
}

static void fill(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < bs; i += 8)
		memcpy(b + i, &v, 8);
}

static void caw_cb(struct iscsi_context *c, int status, void *data, void *priv)
{
	struct side *w = priv;
	struct scsi_task *t = data;
	w->done = true;
	w->status = status;
	w->key = status == SCSI_STATUS_CHECK_CONDITION ? t->sense.key : 0;
	scsi_free_scsi_task(t);
}

static void lane_start(struct iscsi_context *a, struct iscsi_context *b, struct lane *l)
{
	l->va = 2 * (uint64_t)launched + 1;
	l->vb = 2 * (uint64_t)launched + 2;
	launched++;
	l->a = (struct side){ 0 };
	l->b = (struct side){ 0 };
	fill(l->da, l->cur);
	fill(l->da + bs, l->va);
	fill(l->db, l->cur);
	fill(l->db + bs, l->vb);
	l->busy = true;
	if (!iscsi_compareandwrite_task(a, lun, l->lba, l->da, 2 * bs, bs, 0, 0, 0, 0, 0, caw_cb,
					&l->a) ||
	    !iscsi_compareandwrite_task(b, lun, l->lba, l->db, 2 * bs, bs, 0, 0, 0, 0, 0, caw_cb,
					&l->b)) {
		fprintf(stderr, "submit failed\n");
		exit(3);
	}
}

/* Both sides answered: count the round. false when the block's contents
 * are unknown from here (both or neither won, or another error). */
static bool lane_end(struct lane *l)
{
	bool ga = l->a.status == SCSI_STATUS_GOOD, gb = l->b.status == SCSI_STATUS_GOOD;
	l->busy = false;
	rounds++;
	if ((!ga && l->a.key != SCSI_SENSE_MISCOMPARE) ||
	    (!gb && l->b.key != SCSI_SENSE_MISCOMPARE)) {
		fprintf(stderr, "lba %" PRIu64 ": status a=%d/%d b=%d/%d\n", l->lba, l->a.status,
			l->a.key, l->b.status, l->b.key);
		other++;
		return false;
	}
	both += ga && gb;
	none += !ga && !gb;
	ok += ga != gb;
	a_wins += ga && !gb;
	l->cur = ga ? l->va : gb ? l->vb : l->cur;
	return ga != gb;
}

static void service(struct iscsi_context *a, struct iscsi_context *b)
{
	struct pollfd p[2] = { { iscsi_get_fd(a), iscsi_which_events(a), 0 },
			       { iscsi_get_fd(b), iscsi_which_events(b), 0 } };
	if (poll(p, 2, 60000) <= 0 || iscsi_service(a, p[0].revents) < 0 ||
	    iscsi_service(b, p[1].revents) < 0) {
		fprintf(stderr, "transport: %s / %s\n", iscsi_get_error(a), iscsi_get_error(b));
		exit(3);
	}
}

static void race(struct iscsi_context *a, struct iscsi_context *b, struct lane *ls, int n,
		 long total)
{
	bool failed = false;
	for (int i = 0; i < n && launched < total; i++)
		lane_start(a, b, &ls[i]);
	for (;;) {
		bool any = false;
		for (int i = 0; i < n; i++) {
			struct lane *l = &ls[i];
			if (l->busy && l->a.done && l->b.done && !lane_end(l))
				failed = true;
			if (!l->busy && launched < total && !failed)
				lane_start(a, b, l);
			any |= l->busy;
		}
		if (!any)
			return;
		service(a, b);
	}
}

static int check_block(struct iscsi_context *c, uint64_t lba, uint64_t want)
{
	struct scsi_task *t = iscsi_read16_sync(c, lun, lba, bs, bs, 0, 0, 0, 0, 0);
	uint8_t *exp = malloc(bs);
	fill(exp, want);
	int good = t && t->status == SCSI_STATUS_GOOD && t->datain.size == bs &&
		   !memcmp(t->datain.data, exp, bs);
	free(exp);
	if (t)
		scsi_free_scsi_task(t);
	return good;
}

static int read_bs(struct iscsi_context *c)
{
	struct scsi_task *t = iscsi_readcapacity16_sync(c, lun);
	struct scsi_readcapacity16 *rc = t ? scsi_datain_unmarshall(t) : NULL;
	int r = rc ? (int)rc->block_length : -1;
	if (t)
		scsi_free_scsi_task(t);
	return r;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s URL1 URL2 ROUNDS LBA [LANES]\n", argv[0]);
		return 2;
	}
	struct iscsi_context *a = login(argv[1], "iqn.2026-11.org.kura:caw-a");
	struct iscsi_context *b = login(argv[2], "iqn.2026-11.org.kura:caw-b");
	long total = atol(argv[3]);
	uint64_t lba0 = strtoull(argv[4], NULL, 0);
	int n = argc > 5 ? atoi(argv[5]) : 8;
	if (n < 1 || n > MAX_LANES)
		n = 8;
	for (int i = 0; i < 4 && (bs = read_bs(a)) < 0;
	     i++) /* the first answers a unit attention */
		;
	for (int i = 0; i < 4 && read_bs(b) < 0; i++)
		;
	if (bs <= 0)
		return 3;
	struct lane ls[MAX_LANES] = { 0 };
	uint8_t *z = calloc(1, bs);
	for (int i = 0; i < n; i++) {
		ls[i].lba = lba0 + (uint64_t)i * (OBJ_BYTES / bs);
		ls[i].da = malloc(2 * (size_t)bs);
		ls[i].db = malloc(2 * (size_t)bs);
		struct scsi_task *t =
			iscsi_write16_sync(a, lun, ls[i].lba, z, bs, bs, 0, 0, 0, 0, 0);
		if (!t || t->status != SCSI_STATUS_GOOD) {
			fprintf(stderr, "initial write failed\n");
			return 3;
		}
		scsi_free_scsi_task(t);
	}
	race(a, b, ls, n, total);
	long badread = 0;
	for (int i = 0; i < n; i++) {
		badread += !check_block(a, ls[i].lba, ls[i].cur) +
			   !check_block(b, ls[i].lba, ls[i].cur);
		free(ls[i].da);
		free(ls[i].db);
	}
	printf("block_size=%d rounds=%ld ok=%ld both=%ld none=%ld other=%ld a_wins=%ld "
	       "bad_reads=%ld\n",
	       bs, rounds, ok, both, none, other, a_wins, badread);
	free(z);
	iscsi_logout_sync(a);
	iscsi_logout_sync(b);
	iscsi_destroy_context(a);
	iscsi_destroy_context(b);
	return ok == total && rounds == total && !badread ? 0 : 1;
}
