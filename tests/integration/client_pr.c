/* SPDX-License-Identifier: Apache-2.0 */
/* kura integration client for persistent reservations (libiscsi, raw CDBs).
 *
 *   kura-it-client_pr storm  URL SEED N [URL_B]   two initiators (B through
 *       URL_B when given: another gateway of the same LU) run N PROUT commands
 *       (register / reserve / release / preempt / clear, APTPL, changing keys)
 *       that are valid for a model of the state; before each it prints
 *       "NEXT <state the command leads to>", after the GOOD status and a READ
 *       FULL STATUS that equals the model "ACK <state>" (stdout, flushed).
 *   kura-it-client_pr status URL          prints the canonical state
 *   kura-it-client_pr paa    URL LBA      PREEMPT AND ABORT while the victim
 *       writes sequence numbers into LBA; after the PROUT returns, the block
 *       must not change during one second of reads
 *   kura-it-client_pr move   URL          REGISTER AND MOVE to the other nexus
 *   kura-it-client_pr spec   URL          REGISTER with SPEC_I_PT
 *   kura-it-client_pr hold   URL          leave a known state (a holds EA_RO)
 *
 * Canonical state: "name=key[*type]" per registration, sorted, comma separated
 * ("*type" on reservation holders; every registrant for all-registrants
 * types), "-" when there are none. Exit 0 on success.
 */
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define INI_A "iqn.2026-11.org.kura:pr-a"
#define INI_B "iqn.2026-11.org.kura:pr-b"
static int lun;

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static void be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static uint64_t gbe64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}
static uint32_t gbe32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

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
	iscsi_set_timeout(c, 20);
	lun = url->lun;
	if (iscsi_full_connect_sync(c, url->portal, lun)) {
		fprintf(stderr, "login %s: %s\n", name, iscsi_get_error(c));
		exit(1);
	}
	iscsi_destroy_url(url);
	return c;
}

static void bye(struct iscsi_context *c)
{
	fflush(stdout);
	iscsi_logout_sync(c);
	iscsi_destroy_context(c);
}

/* One command; unit attentions are retried (a restart raises 29/00). */
static struct scsi_task *cmd(struct iscsi_context *c, const uint8_t *cdb, int len, int dir,
			     int xfer, uint8_t *out, int outlen)
{
	for (int i = 0; i < 8; i++) {
		struct scsi_task *t = scsi_create_task(len, (unsigned char *)cdb, dir, xfer);
		struct iscsi_data d = { .size = (size_t)outlen, .data = out };
		if (!t || !iscsi_scsi_command_sync(c, lun, t, out ? &d : NULL)) {
			fprintf(stderr, "transport: %s\n", iscsi_get_error(c));
			exit(3);
		}
		if (t->status == SCSI_STATUS_CHECK_CONDITION &&
		    t->sense.key == SCSI_SENSE_UNIT_ATTENTION) {
			scsi_free_scsi_task(t);
			continue;
		}
		return t;
	}
	fprintf(stderr, "unit attentions do not stop\n");
	exit(3);
}

static int prout(struct iscsi_context *c, int sa, int type, uint64_t rk, uint64_t sark,
		 uint8_t flags, const uint8_t *extra, int elen)
{
	uint8_t cdb[10] = { 0x5F, (uint8_t)sa, (uint8_t)type }, p[600] = { 0 };
	be64(p, rk);
	be64(p + 8, sark);
	p[20] = flags;
	if (elen)
		memcpy(p + 24, extra, (size_t)elen);
	be32(cdb + 5, (uint32_t)(24 + elen));
	struct scsi_task *t = cmd(c, cdb, 10, SCSI_XFER_WRITE, 24 + elen, p, 24 + elen);
	int st = t->status;
	scsi_free_scsi_task(t);
	return st;
}

static struct scsi_task *prin(struct iscsi_context *c, int sa)
{
	uint8_t cdb[10] = { 0x5E, (uint8_t)sa };
	cdb[7] = 0x20; /* 8 KiB */
	struct scsi_task *t = cmd(c, cdb, 10, SCSI_XFER_READ, 8192, NULL, 0);
	if (t->status != SCSI_STATUS_GOOD) {
		fprintf(stderr, "PRIN failed\n");
		exit(1);
	}
	return t;
}

/* ---- canonical state ---- */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void join(char **items, int n, char *out, size_t cap)
{
	qsort(items, (size_t)n, sizeof(char *), cmp_str);
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		if (i)
			strncat(out, ",", cap - strlen(out) - 1);
		strncat(out, items[i], cap - strlen(out) - 1);
		free(items[i]);
	}
	if (!n)
		snprintf(out, cap, "-");
}

static void target_state(struct iscsi_context *c, char *out, size_t cap)
{
	struct scsi_task *t = prin(c, 3);
	const uint8_t *b = t->datain.data;
	uint32_t end = 8 + gbe32(b + 4), off = 8;
	char *items[64];
	int n = 0;
	while (off + 24 <= end && n < 64) {
		const uint8_t *d = b + off;
		uint32_t dl = gbe32(d + 20);
		char name[256];
		snprintf(name, sizeof(name), "%s", (const char *)d + 28);
		char *comma = strchr(name, ',');
		if (comma)
			*comma = 0;
		char *it = malloc(320);
		if (d[12] & 1)
			snprintf(it, 320, "%s=%" PRIx64 "*%d", name, gbe64(d), d[13] & 0xF);
		else
			snprintf(it, 320, "%s=%" PRIx64, name, gbe64(d));
		items[n++] = it;
		off += 24 + dl;
	}
	scsi_free_scsi_task(t);
	join(items, n, out, cap);
}

/* ---- the storm ---- */
struct model {
	uint64_t key[2];
	int type, holder;
}; /* holder -1: all registrants */
static const char *names[2] = { INI_A, INI_B };
static const int types[6] = { 1, 3, 5, 6, 7, 8 };

static void model_state(const struct model *m, char *out, size_t cap)
{
	char *items[2];
	int n = 0;
	for (int i = 0; i < 2; i++) {
		if (!m->key[i])
			continue;
		items[n] = malloc(320);
		bool h = m->type && (m->holder == -1 || m->holder == i);
		if (h)
			snprintf(items[n], 320, "%s=%" PRIx64 "*%d", names[i], m->key[i], m->type);
		else
			snprintf(items[n], 320, "%s=%" PRIx64, names[i], m->key[i]);
		n++;
	}
	join(items, n, out, cap);
}

static bool ar(int type)
{
	return type == 7 || type == 8;
}

static void unreg(struct model *m, int i)
{
	m->key[i] = 0;
	if (m->type &&
	    ((!ar(m->type) && m->holder == i) || (ar(m->type) && !m->key[0] && !m->key[1])))
		m->type = 0;
}

/* Pick a command valid in state m; apply it to n; return sa etc. */
struct op {
	int who, sa, type;
	uint64_t rk, sark;
};

static struct op pick(const struct model *m, struct model *n, uint64_t *next_key)
{
	*n = *m;
	struct op o = { .who = rand() % 2 };
	int i = o.who, j = 1 - i;
	int choice = rand() % 7;
	if (!m->key[i] || choice == 0) { /* REGISTER AND IGNORE: new key */
		o.sa = 6;
		o.sark = ++*next_key;
		n->key[i] = o.sark;
		return o;
	}
	o.rk = m->key[i];
	if (choice == 1) { /* REGISTER: change key or unregister */
		o.sa = 0;
		o.sark = rand() % 3 ? ++*next_key : 0;
		if (o.sark)
			n->key[i] = o.sark;
		else
			unreg(n, i);
		return o;
	}
	bool holder = m->type && (m->holder == i || m->holder == -1);
	if (!m->type && choice <= 4) { /* RESERVE */
		o.sa = 1;
		o.type = types[rand() % 6];
		n->type = o.type;
		n->holder = ar(o.type) ? -1 : i;
		return o;
	}
	if (holder && choice <= 3) { /* RELEASE */
		o.sa = 2;
		o.type = m->type;
		n->type = 0;
		return o;
	}
	if (m->key[j] && choice <= 5) { /* PREEMPT the other one */
		o.sa = 4;
		o.sark = m->key[j];
		o.type = types[rand() % 6];
		bool took = m->type && !ar(m->type) && m->holder == j;
		n->key[j] = 0;
		if (took) {
			n->type = o.type;
			n->holder = ar(o.type) ? -1 : i;
		}
		return o;
	}
	o.sa = 3; /* CLEAR */
	n->key[0] = n->key[1] = 0;
	n->type = 0;
	return o;
}

static int storm(const char *url, const char *url_b, unsigned seed, int iters)
{
	struct iscsi_context *c[2] = { login(url, INI_A), login(url_b, INI_B) };
	srand(seed);
	uint64_t next_key = (uint64_t)seed << 20;
	/* start from nothing: register, then CLEAR everything */
	if (prout(c[0], 6, 0, 0, ++next_key, 1, NULL, 0) ||
	    prout(c[0], 3, 0, next_key, 0, 0, NULL, 0)) {
		fprintf(stderr, "could not clear the LU\n");
		return 1;
	}
	struct model m = { { 0, 0 }, 0, 0 }, n;
	char want[2048], got[2048];
	model_state(&m, want, sizeof(want));
	printf("ACK %s\n", want);
	fflush(stdout);
	for (int k = 0; k < iters; k++) {
		struct op o = pick(&m, &n, &next_key);
		model_state(&n, want, sizeof(want));
		printf("NEXT %s\n", want);
		fflush(stdout);
		uint8_t flags = (o.sa == 0 || o.sa == 6) ? 1 : 0; /* APTPL on every REGISTER */
		int st = prout(c[o.who], o.sa, o.type, o.rk, o.sark, flags, NULL, 0);
		if (st != SCSI_STATUS_GOOD) {
			fprintf(stderr, "op %d (sa %d by %d): status 0x%x\n", k, o.sa, o.who, st);
			return 1;
		}
		target_state(c[o.who], got, sizeof(got));
		if (strcmp(got, want)) {
			fprintf(stderr, "MISMATCH after op %d (sa %d): target %s model %s\n", k,
				o.sa, got, want);
			return 1;
		}
		printf("ACK %s\n", got);
		fflush(stdout);
		m = n;
	}
	bye(c[0]);
	bye(c[1]);
	return 0;
}

/* ---- PREEMPT AND ABORT with writes in flight ---- */
static atomic_bool stop;
static atomic_ulong acked, conflicts, seqno;
static uint64_t victim_lba;
static struct iscsi_context *victim;

static void write_next(void);
static void write_cb(struct iscsi_context *c, int status, void *data, void *priv)
{
	struct scsi_task *t = data;
	if (status == SCSI_STATUS_GOOD)
		atomic_fetch_add(&acked, 1);
	else if (status == SCSI_STATUS_RESERVATION_CONFLICT)
		atomic_fetch_add(&conflicts, 1);
	if (t)
		scsi_free_scsi_task(t);
	free(priv);
	if (!atomic_load(&stop))
		write_next();
}

static void write_next(void)
{
	uint8_t *b = calloc(1, 512);
	unsigned long s = atomic_fetch_add(&seqno, 1) + 1;
	for (int i = 0; i < 64; i++)
		be64(b + 8 * i, s);
	if (!iscsi_write10_task(victim, lun, (uint32_t)victim_lba, b, 512, 512, 0, 0, 0, 0, 0,
				write_cb, b))
		free(b);
}

static void *victim_main(void *arg)
{
	for (int i = 0; i < 8; i++)
		write_next();
	while (!atomic_load(&stop)) {
		struct pollfd p = { iscsi_get_fd(victim), (short)iscsi_which_events(victim), 0 };
		if (poll(&p, 1, 100) < 0)
			break;
		if (p.revents && iscsi_service(victim, p.revents) < 0)
			break;
	}
	return NULL;
}

static uint64_t read_seq(struct iscsi_context *c)
{
	struct scsi_task *t =
		iscsi_read10_sync(c, lun, (uint32_t)victim_lba, 512, 512, 0, 0, 0, 0, 0);
	if (!t || t->status != SCSI_STATUS_GOOD) {
		fprintf(stderr, "read failed\n");
		exit(1);
	}
	uint64_t v = gbe64(t->datain.data);
	scsi_free_scsi_task(t);
	return v;
}

static int paa(const char *url, uint64_t lba)
{
	struct iscsi_context *a = login(url, INI_A);
	victim = login(url, INI_B);
	victim_lba = lba;
	prout(a, 6, 0, 0, 0xA1, 0, NULL, 0);
	prout(a, 3, 0, 0xA1, 0, 0, NULL, 0);
	if (prout(a, 6, 0, 0, 0xA1, 0, NULL, 0) || prout(victim, 6, 0, 0, 0xB1, 0, NULL, 0) ||
	    prout(a, 1, 5, 0xA1, 0, 0, NULL, 0)) { /* WE_RO: the registered victim may write */
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	pthread_t th;
	pthread_create(&th, NULL, victim_main, NULL);
	while (atomic_load(&acked) < 200)
		usleep(1000);
	int st = prout(a, 5, 5, 0xA1, 0xB1, 0, NULL, 0); /* PREEMPT AND ABORT */
	unsigned long before = atomic_load(&acked);
	uint64_t first = read_seq(a);
	int changed = 0;
	for (int i = 0; i < 10; i++) {
		usleep(100000);
		if (read_seq(a) != first)
			changed++;
	}
	printf("PROUT status 0x%x; victim writes acknowledged %lu (at PROUT return %lu), conflicts %lu, "
	       "issued %lu; block holds %" PRIu64 "; changed in %d of 10 reads\n",
	       st, atomic_load(&acked), before, atomic_load(&conflicts), atomic_load(&seqno), first,
	       changed);
	int ok = st == SCSI_STATUS_GOOD && changed == 0 && first > 0;
	prout(a, 3, 0, 0xA1, 0, 0, NULL, 0);
	fflush(stdout);
	_exit(ok ? 0 : 1); /* the victim's aborted commands never answer */
}

/* ---- REGISTER AND MOVE, SPEC_I_PT ---- */
static int find_tid(struct iscsi_context *c, const char *name, uint8_t *tid, uint16_t *port)
{
	struct scsi_task *t = prin(c, 3);
	const uint8_t *b = t->datain.data;
	uint32_t end = 8 + gbe32(b + 4), off = 8;
	int len = -1;
	while (off + 24 <= end) {
		const uint8_t *d = b + off;
		uint32_t dl = gbe32(d + 20);
		if (!strncmp((const char *)d + 28, name, strlen(name)) && dl <= 300) {
			memcpy(tid, d + 24, dl);
			*port = (uint16_t)(d[18] << 8 | d[19]);
			len = (int)dl;
		}
		off += 24 + dl;
	}
	scsi_free_scsi_task(t);
	return len;
}

static uint8_t rw(struct iscsi_context *c, bool write)
{
	uint8_t b[512] = { 0 };
	struct scsi_task *t = write ? iscsi_write10_sync(c, lun, 8, b, 512, 512, 0, 0, 0, 0, 0)
				    : iscsi_read10_sync(c, lun, 8, 512, 512, 0, 0, 0, 0, 0);
	uint8_t st = t ? (uint8_t)t->status : 0xFF;
	if (t && st == SCSI_STATUS_CHECK_CONDITION && t->sense.key == SCSI_SENSE_UNIT_ATTENTION) {
		scsi_free_scsi_task(t);
		return rw(c, write);
	}
	if (t)
		scsi_free_scsi_task(t);
	return st;
}

static int checks, fails;
static void check(const char *what, bool ok)
{
	checks++;
	if (!ok)
		fails++;
	printf("%s %s\n", ok ? "ok" : "NOT OK", what);
}

static int move(const char *url)
{
	struct iscsi_context *a = login(url, INI_A), *b = login(url, INI_B);
	prout(a, 6, 0, 0, 0xA2, 0, NULL, 0);
	prout(a, 3, 0, 0xA2, 0, 0, NULL, 0);
	check("a and b register",
	      !prout(a, 6, 0, 0, 0xA2, 0, NULL, 0) && !prout(b, 6, 0, 0, 0xB2, 0, NULL, 0));
	check("a reserves EXCLUSIVE ACCESS", !prout(a, 1, 3, 0xA2, 0, 0, NULL, 0));
	uint8_t p[600] = { 0 }, tid[300];
	uint16_t port = 0;
	int tl = find_tid(a, INI_B, tid, &port);
	check("b's TransportID in READ FULL STATUS", tl >= 24);
	check("b still cannot write", rw(b, true) == SCSI_STATUS_RESERVATION_CONFLICT);
	uint8_t cdb[10] = { 0x5F, 7, 3 };
	be64(p, 0xA2);
	be64(p + 8, 0xC2);
	p[17] = 0x02; /* UNREG */
	p[18] = (uint8_t)(port >> 8);
	p[19] = (uint8_t)port;
	be32(p + 20, (uint32_t)tl);
	memcpy(p + 24, tid, (size_t)tl);
	be32(cdb + 5, (uint32_t)(24 + tl));
	struct scsi_task *t = cmd(a, cdb, 10, SCSI_XFER_WRITE, 24 + tl, p, 24 + tl);
	check("REGISTER AND MOVE to b with UNREG: GOOD", t->status == SCSI_STATUS_GOOD);
	scsi_free_scsi_task(t);
	char st[2048];
	target_state(b, st, sizeof(st));
	check(st, !strcmp(st, INI_B "=c2*3"));
	check("b (the new holder) writes", rw(b, true) == SCSI_STATUS_GOOD);
	check("a (unregistered) cannot read", rw(a, false) == SCSI_STATUS_RESERVATION_CONFLICT);
	prout(b, 3, 0, 0xC2, 0, 0, NULL, 0);
	printf("%d passed, %d failed\n", checks - fails, fails);
	bye(a);
	bye(b);
	return fails != 0;
}

static int spec(const char *url)
{
	struct iscsi_context *a = login(url, INI_A), *b = login(url, INI_B);
	prout(a, 6, 0, 0, 0xA3, 0, NULL, 0);
	prout(a, 3, 0, 0xA3, 0, 0, NULL, 0);
	uint8_t ext[300] = { 0 };
	int n = (int)strlen(INI_B) + 1;
	int alen = (n + 3) & ~3;
	if (alen < 20)
		alen = 20;
	ext[4] = 0x05; /* format 00h, iSCSI */
	ext[6] = (uint8_t)(alen >> 8);
	ext[7] = (uint8_t)alen;
	memcpy(ext + 8, INI_B, (size_t)n);
	be32(ext, (uint32_t)(4 + alen));
	check("REGISTER with SPEC_I_PT naming b", !prout(a, 0, 0, 0, 0xA3, 0x08, ext, 8 + alen));
	char st[2048];
	target_state(a, st, sizeof(st));
	check(st, !strcmp(st, INI_A "=a3," INI_B "=a3"));
	check("b reserves WRITE EXCLUSIVE with the key a gave it",
	      !prout(b, 1, 1, 0xA3, 0, 0, NULL, 0));
	check("b writes", rw(b, true) == SCSI_STATUS_GOOD);
	check("a (registered, not holder) cannot write",
	      rw(a, true) == SCSI_STATUS_RESERVATION_CONFLICT);
	check("a reads", rw(a, false) == SCSI_STATUS_GOOD);
	prout(a, 3, 0, 0xA3, 0, 0, NULL, 0);
	printf("%d passed, %d failed\n", checks - fails, fails);
	bye(a);
	bye(b);
	return fails != 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "storm"))
		return storm(argv[2], argc >= 6 ? argv[5] : argv[2], (unsigned)atoi(argv[3]),
			     atoi(argv[4]));
	if (argc >= 3 && !strcmp(argv[1], "status")) {
		char st[2048];
		struct iscsi_context *a = login(argv[2], INI_A);
		target_state(a, st, sizeof(st));
		printf("%s\n", st);
		bye(a);
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "paa"))
		return paa(argv[2], strtoull(argv[3], NULL, 0));
	if (argc >= 3 && !strcmp(argv[1], "move"))
		return move(argv[2]);
	if (argc >= 3 &&
	    !strcmp(argv[1], "hold")) { /* a known state: a holds EA_RO, b registered */
		struct iscsi_context *a = login(argv[2], INI_A), *b = login(argv[2], INI_B);
		prout(a, 6, 0, 0, 0xA4, 1, NULL, 0);
		prout(a, 3, 0, 0xA4, 0, 0, NULL, 0);
		int r = prout(a, 6, 0, 0, 0xA4, 1, NULL, 0) ||
			prout(b, 6, 0, 0, 0xB4, 1, NULL, 0) || prout(a, 1, 6, 0xA4, 0, 0, NULL, 0);
		bye(a);
		bye(b);
		return r;
	}
	if (argc >= 3 && !strcmp(argv[1], "spec"))
		return spec(argv[2]);
	fprintf(stderr,
		"usage: %s storm URL SEED N [URL_B] | status URL | paa URL LBA | move URL | spec URL\n",
		argv[0]);
	return 2;
}
