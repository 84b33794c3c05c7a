/* SPDX-License-Identifier: Apache-2.0 */
/* kura integration client: many concurrent sessions on one LUN.
 *
 *   kura-it-client_many URL [SESSIONS] [ROUNDS]
 *
 * Opens SESSIONS (default 64) sessions, each with its own initiator name, plus
 * two more sessions that share ONE initiator name and differ only in ISID. I/O
 * starts only after every session is logged in (so all are open at once); all
 * of them are driven concurrently from one poll() loop with libiscsi's async
 * API: each session owns a 256 KiB region of the LUN and, ROUNDS times, writes
 * a pattern unique to (session, round) and reads it back, comparing every
 * byte. At the end every region is read once more. Exit 0 only when every
 * session logged in and every byte matched.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define REGION (256 * 1024)
#define IO     (64 * 1024)

enum state { CONNECTING, LOGGED, WRITING, READING, FINAL_READ, DONE, FAILED };

struct sess {
	int id;
	struct iscsi_context *ctx;
	enum state st;
	int round, chunk;
	unsigned char *buf;
	long bytes_checked;
};

static struct iscsi_url *url0;
static int lun, blksz = 512, rounds = 4, nsess;
static char target[256], portal[256];

static unsigned char pat(int id, int round, long off)
{
	return (unsigned char)(id * 37 + round * 101 + off / 512 * 7 + (off & 511) + 1);
}
static uint64_t lba_of(struct sess *s, int chunk)
{
	return ((uint64_t)(s->id + 1) * REGION + (uint64_t)chunk * IO) / blksz;
}
static void fail(struct sess *s, const char *what)
{
	fprintf(stderr, "session %d: %s: %s\n", s->id, what, iscsi_get_error(s->ctx));
	s->st = FAILED;
}
static void next(struct sess *s);

static void io_cb(struct iscsi_context *ctx, int status, void *command_data, void *priv)
{
	struct sess *s = priv;
	struct scsi_task *t = command_data;
	if (status != SCSI_STATUS_GOOD) {
		fail(s, s->st == WRITING ? "WRITE(16)" : "READ(16)");
		if (t)
			scsi_free_scsi_task(t);
		return;
	}
	if (s->st == READING || s->st == FINAL_READ) {
		int r = s->round;
		if (t->datain.size != IO) {
			fail(s, "short read");
			scsi_free_scsi_task(t);
			return;
		}
		for (long i = 0; i < IO; i++) {
			long off = (long)s->chunk * IO + i;
			if (t->datain.data[i] != pat(s->id, r, off)) {
				fprintf(stderr,
					"session %d round %d: mismatch at region offset %ld\n",
					s->id, r, off);
				s->st = FAILED;
				scsi_free_scsi_task(t);
				return;
			}
		}
		s->bytes_checked += IO;
	}
	scsi_free_scsi_task(t);
	s->chunk++;
	if (s->chunk == REGION / IO) {
		s->chunk = 0;
		if (s->st == WRITING)
			s->st = READING;
		else if (s->st == READING) {
			if (++s->round == rounds) {
				s->round = rounds - 1;
				s->st = FINAL_READ;
			} else
				s->st = WRITING;
		} else if (s->st == FINAL_READ) {
			s->st = DONE;
			return;
		}
	}
	next(s);
}

static void next(struct sess *s)
{
	struct scsi_task *t;
	if (s->st == WRITING) {
		for (long i = 0; i < IO; i++)
			s->buf[i] = pat(s->id, s->round, (long)s->chunk * IO + i);
		t = iscsi_write16_task(s->ctx, lun, lba_of(s, s->chunk), s->buf, IO, blksz, 0, 0, 0,
				       0, 0, io_cb, s);
	} else {
		t = iscsi_read16_task(s->ctx, lun, lba_of(s, s->chunk), IO, blksz, 0, 0, 0, 0, 0,
				      io_cb, s);
	}
	if (!t)
		fail(s, "queue command");
}

static void connect_cb(struct iscsi_context *ctx, int status, void *command_data, void *priv)
{
	struct sess *s = priv;
	if (status != SCSI_STATUS_GOOD) {
		fail(s, "login");
		return;
	}
	s->st = LOGGED; /* I/O starts only once every session is logged in */
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s URL [SESSIONS] [ROUNDS]\n", argv[0]);
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 64;
	rounds = argc > 3 ? atoi(argv[3]) : 4;
	nsess = n + 2;
	struct iscsi_context *tmp = iscsi_create_context("iqn.2026-11.org.kura:it-parse");
	url0 = iscsi_parse_full_url(tmp, argv[1]);
	if (!url0) {
		fprintf(stderr, "bad url: %s\n", iscsi_get_error(tmp));
		return 2;
	}
	snprintf(target, sizeof target, "%s", url0->target);
	snprintf(portal, sizeof portal, "%s", url0->portal);
	lun = url0->lun;
	/* block size from a synchronous probe session */
	iscsi_set_targetname(tmp, target);
	iscsi_set_session_type(tmp, ISCSI_SESSION_NORMAL);
	if (iscsi_full_connect_sync(tmp, portal, lun)) {
		fprintf(stderr, "probe login: %s\n", iscsi_get_error(tmp));
		return 1;
	}
	struct scsi_task *t = iscsi_readcapacity16_sync(tmp, lun);
	if (t && t->status == SCSI_STATUS_GOOD) {
		struct scsi_readcapacity16 *rc = scsi_datain_unmarshall(t);
		if (rc)
			blksz = rc->block_length;
		if (rc &&
		    (rc->returned_lba + 1) * (uint64_t)blksz < (uint64_t)(nsess + 1) * REGION) {
			fprintf(stderr, "LUN too small\n");
			return 1;
		}
	}
	if (t)
		scsi_free_scsi_task(t);
	iscsi_logout_sync(tmp);
	iscsi_destroy_url(url0);
	iscsi_destroy_context(tmp);

	struct sess *ss = calloc(nsess, sizeof *ss);
	struct pollfd *pfd = calloc(nsess, sizeof *pfd);
	for (int i = 0; i < nsess; i++) {
		char name[128];
		struct sess *s = &ss[i];
		s->id = i;
		s->buf = malloc(IO);
		if (i < n)
			snprintf(name, sizeof name, "iqn.2026-11.org.kura:it-many-%03d", i);
		else
			snprintf(name, sizeof name, "iqn.2026-11.org.kura:it-many-shared");
		s->ctx = iscsi_create_context(name);
		if (i >= n)
			iscsi_set_isid_random(s->ctx, 0x1000 + i,
					      0); /* same name, different ISID */
		iscsi_set_targetname(s->ctx, target);
		iscsi_set_session_type(s->ctx, ISCSI_SESSION_NORMAL);
		iscsi_set_header_digest(s->ctx, ISCSI_HEADER_DIGEST_NONE_CRC32C);
		iscsi_set_noautoreconnect(s->ctx, 1);
		if (iscsi_full_connect_async(s->ctx, portal, lun, connect_cb, s))
			fail(s, "connect");
	}
	time_t start = time(NULL);
	int logged_max = 0, started = 0;
	for (;;) {
		int active = 0, logged = 0, connecting = 0;
		for (int i = 0; i < nsess; i++) {
			pfd[i].fd = -1;
			pfd[i].events = 0;
			if (ss[i].st != FAILED && ss[i].st != DONE) {
				pfd[i].fd = iscsi_get_fd(ss[i].ctx);
				pfd[i].events = iscsi_which_events(ss[i].ctx);
				active++;
			}
			if (ss[i].st == LOGGED)
				logged++;
			if (ss[i].st == CONNECTING)
				connecting++;
		}
		if (!started && !connecting) {
			started = 1;
			logged_max = logged;
			for (int i = 0; i < nsess; i++)
				if (ss[i].st == LOGGED) {
					ss[i].st = WRITING;
					next(&ss[i]);
				}
			continue;
		}
		if (!active)
			break;
		if (time(NULL) - start > 120) {
			fprintf(stderr, "timeout\n");
			break;
		}
		if (poll(pfd, nsess, 1000) < 0)
			break;
		for (int i = 0; i < nsess; i++) {
			if (pfd[i].fd < 0)
				continue;
			if (iscsi_service(ss[i].ctx, pfd[i].revents) < 0)
				fail(&ss[i], "service");
		}
	}
	int done = 0;
	long bytes = 0;
	for (int i = 0; i < nsess; i++) {
		if (ss[i].st == DONE)
			done++;
		else
			fprintf(stderr, "session %d did not finish (state %d)\n", i, ss[i].st);
		bytes += ss[i].bytes_checked;
	}
	printf("sessions: %d requested (%d distinct names + 2 sharing a name with different ISIDs), "
	       "%d logged in at once, %d completed, %ld bytes verified\n",
	       nsess, n, logged_max, done, bytes);
	for (int i = 0; i < nsess; i++) {
		if (ss[i].st == DONE)
			iscsi_logout_sync(ss[i].ctx);
		iscsi_destroy_context(ss[i].ctx);
		free(ss[i].buf);
	}
	free(ss);
	free(pfd);
	return done == nsess ? 0 : 1;
}
