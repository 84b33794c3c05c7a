/* SPDX-License-Identifier: Apache-2.0 */
/* The PR verb of kura-initiatord's control socket (ctl_proto.h): one
 * PERSISTENT RESERVE IN (5Eh) or OUT (5Fh) CDB sent to an LU on one given
 * path, on one path the daemon picks, or on every path that is up (each on
 * its own I_T nexus, in parallel), answered with each path's SCSI status,
 * sense and Data-In. This is how kura-mpathpersist acts "through every path
 * of the LU" without opening sessions of its own: the daemon owns the paths.
 *
 * A UNIT ATTENTION is retried on the same path (up to 5 times, as
 * mpathpersist does); nothing is retried on another path and nothing goes
 * through the multipath queue. A command unanswered after the daemon's
 * command timeout is reported as status=timeout (the request is freed when
 * libiscsi finally gives its task back, at the latest at path teardown).
 *
 * Not for: deciding what to send (register on all, reserve on one, the
 * rollback): that is kura-mpathpersist's (mpathpersist*.c). Only opcodes
 * 5Eh and 5Fh are accepted: the socket is not a general SCSI pass-through.
 */
#include "initiator/initiatord_internal.h"
#include "common/container.h"
#include "common/hex.h"
#include "common/log.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define PR_MAX_PARAM 8192 /* mpathpersist's MPATH_MAX_PARAM_LEN */
#define PR_UA_TRIES  5
#define PR_HEX_CHUNK 512 /* Data-In bytes per "data=" reply line */

struct pr_req;

struct pr_one {
	struct pr_req *r;
	struct ini_path *p; /* valid while the command is outstanding */
	int sid, lun, tries;
	bool done;
	int status; /* SCSI status, or -1 transport error, -2 timeout */
	int key, asc, ascq;
	uint8_t *din; /* Data-In copy */
	size_t din_len;
	char why[96];
};

struct pr_req {
	struct ctl_conn *c; /* NULL once answered or the client left */
	struct ctl_hold hold;
	struct ini_daemon *d;
	struct kloop_timer timer;
	uint8_t cdb[10];
	uint8_t dout[PR_MAX_PARAM];
	uint32_t dout_len, alloc_len;
	int n, left; /* paths asked, commands outstanding */
	struct pr_one one[INI_MAX_LU_PATHS];
};

static int unhex_buf(const char *s, uint8_t *out, size_t max)
{
	size_t n = strlen(s);
	if (n % 2 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = khex_val(s[2 * i]), lo = khex_val(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

static struct ini_lu *pr_find_lu(struct ini_daemon *d, const char *name)
{
	for (int i = 0; i < d->n_lus; i++) {
		struct ini_lu *lu = d->lus[i];
		if (!lu->gone && (!strcmp(name, lu->wwid) || !strcmp(name, lu->alias)))
			return lu;
	}
	return NULL;
}

/* ---- the reply ------------------------------------------------------------- */

static void pr_reply_one(struct ctl_conn *c, const struct pr_one *o)
{
	char buf[512], st[16] = "timeout", sense[16] = "-";
	if (o->status >= 0)
		snprintf(st, sizeof(st), "0x%02x", o->status);
	else if (o->status == -1)
		snprintf(st, sizeof(st), "transport");
	if (o->status == SCSI_STATUS_CHECK_CONDITION)
		snprintf(sense, sizeof(sense), "%x/%02x/%02x", o->key, o->asc, o->ascq);
	snprintf(buf, sizeof(buf), "sid=%d address=%s port=%u status=%s sense=%s len=%zu error=%s",
		 o->sid, o->p ? o->p->id.address : "-", o->p ? o->p->id.port : 0, st, sense,
		 o->din_len, o->why[0] ? o->why : "-");
	ctl_data(c, buf);
	for (size_t off = 0; off < o->din_len; off += PR_HEX_CHUNK) {
		size_t n = o->din_len - off < PR_HEX_CHUNK ? o->din_len - off : PR_HEX_CHUNK;
		char hex[2 * PR_HEX_CHUNK + 8] = "data=";
		for (size_t i = 0; i < n; i++)
			snprintf(hex + 5 + 2 * i, 3, "%02x", o->din[off + i]);
		ctl_data(c, hex);
	}
}

static void pr_answer(struct pr_req *r)
{
	struct ctl_conn *c = r->c;
	kloop_timer_stop(r->d->loop, &r->timer);
	if (!c)
		return;
	r->c = NULL;
	for (int i = 0; i < r->n; i++)
		pr_reply_one(c, &r->one[i]);
	ctl_end(c, 0, NULL);
}

static void pr_free(struct pr_req *r)
{
	kloop_timer_stop(r->d->loop, &r->timer);
	for (int i = 0; i < r->n; i++)
		free(r->one[i].din);
	free(r);
}

static void pr_gone(struct ctl_hold *h)
{
	struct pr_req *r = container_of(h, struct pr_req, hold);
	r->c = NULL;
	if (!r->left)
		pr_free(r);
}

static void pr_timeout(struct kloop_timer *t)
{
	struct pr_req *r = container_of(t, struct pr_req, timer);
	for (int i = 0; i < r->n; i++)
		if (!r->one[i].done) {
			r->one[i].status = -2;
			snprintf(r->one[i].why, sizeof(r->one[i].why), "no answer");
		}
	pr_answer(r); /* stops the timer; r lives until libiscsi returns the tasks */
}

/* ---- one path -------------------------------------------------------------- */

static int pr_send(struct pr_one *o);

static void pr_drop(struct pr_req *r)
{
	if (--r->left)
		return;
	pr_answer(r);
	pr_free(r);
}

static void pr_finish_one(struct pr_one *o)
{
	o->done = true;
	pr_drop(o->r);
}

static void pr_record(struct pr_one *o, int status, struct scsi_task *t)
{
	if (o->status == -2)
		return; /* already reported as timed out */
	o->status = status <= 0xff ? status : -1;
	if (o->status < 0)
		snprintf(o->why, sizeof(o->why), "%s",
			 status == SCSI_STATUS_CANCELLED ? "path lost" : "transport error");
	if (status == SCSI_STATUS_CHECK_CONDITION) {
		o->key = t->sense.key;
		o->asc = (t->sense.ascq >> 8) & 0xff;
		o->ascq = t->sense.ascq & 0xff;
	}
	if (status == SCSI_STATUS_GOOD && t->datain.size > 0 &&
	    (o->din = malloc((size_t)t->datain.size))) {
		memcpy(o->din, t->datain.data, (size_t)t->datain.size);
		o->din_len = (size_t)t->datain.size;
	}
}

static void pr_cb(struct iscsi_context *ctx, int status, void *data, void *priv)
{
	struct pr_one *o = priv;
	struct scsi_task *t = data;
	bool ua = status == SCSI_STATUS_CHECK_CONDITION && t &&
		  t->sense.key == SCSI_SENSE_UNIT_ATTENTION;
	bool retry = ua && ++o->tries < PR_UA_TRIES && o->status != -2 && o->p->state == PATH_UP;
	if (!retry)
		pr_record(o, status, t);
	if (t)
		scsi_free_scsi_task(t);
	if (retry && pr_send(o) == 0)
		return;
	pr_finish_one(o);
}

static int pr_send(struct pr_one *o)
{
	struct pr_req *r = o->r;
	bool out = r->cdb[0] == 0x5f;
	struct scsi_task *t = scsi_create_task(10, r->cdb, out ? SCSI_XFER_WRITE : SCSI_XFER_READ,
					       (int)(out ? r->dout_len : r->alloc_len));
	if (!t)
		return -ENOMEM;
	if (out && r->dout_len)
		scsi_task_add_data_out_buffer(t, (int)r->dout_len, r->dout);
	int rc = path_send_task(o->p, o->lun, t, pr_cb, o);
	if (rc < 0) {
		scsi_free_scsi_task(t);
		o->status = -1;
		snprintf(o->why, sizeof(o->why), "%s",
			 rc == -ENOTCONN ? "path not up" : "cannot queue");
	}
	return rc;
}

/* ---- the verb -------------------------------------------------------------- */

static bool pr_path_wanted(const struct ini_lu *lu, int k, const char *which, int pick)
{
	const struct ini_path *p = lu->paths[k].p;
	if (!strcmp(which, "all"))
		return p->state == PATH_UP;
	if (!strcmp(which, "any"))
		return k == pick;
	return p->sid == atoi(which);
}

/* "any": the path carrying the LU's I/O if it is up, else the first up. */
static int pr_pick(const struct ini_lu *lu)
{
	int cur = lu->sel.current;
	if (cur >= 0 && cur < lu->n_paths && lu->paths[cur].p->state == PATH_UP)
		return cur;
	for (int k = 0; k < lu->n_paths; k++)
		if (lu->paths[k].p->state == PATH_UP)
			return k;
	return -1;
}

static int pr_parse(struct pr_req *r, int argc, char **argv, const char **err)
{
	*err = "usage: PR lu sid|all|any cdb-hex [param-hex]";
	if (argc < 4 || unhex_buf(argv[3], r->cdb, sizeof(r->cdb)) != 10)
		return -1;
	*err = "only PERSISTENT RESERVE IN (5e) and OUT (5f) are passed through";
	if (r->cdb[0] != 0x5e && r->cdb[0] != 0x5f)
		return -1;
	*err = "parameter list length does not match the data";
	if (r->cdb[0] == 0x5f) {
		int n = argc > 4 ? unhex_buf(argv[4], r->dout, sizeof(r->dout)) : 0;
		uint32_t want = (uint32_t)r->cdb[5] << 24 | r->cdb[6] << 16 | r->cdb[7] << 8 |
				r->cdb[8];
		if (n < 0 || (uint32_t)n != want)
			return -1;
		r->dout_len = (uint32_t)n;
		return 0;
	}
	r->alloc_len = (uint32_t)r->cdb[7] << 8 | r->cdb[8];
	*err = "allocation length over 8192";
	return r->alloc_len > PR_MAX_PARAM ? -1 : 0;
}

static int pr_choose(struct pr_req *r, struct ini_lu *lu, const char *which)
{
	int pick = pr_pick(lu);
	for (int k = 0; k < lu->n_paths && r->n < INI_MAX_LU_PATHS; k++) {
		if (!pr_path_wanted(lu, k, which, pick))
			continue;
		struct pr_one *o = &r->one[r->n++];
		o->r = r;
		o->p = lu->paths[k].p;
		o->sid = o->p->sid;
		o->lun = lu->paths[k].lun;
	}
	return r->n;
}

void ctl_verb_pr(struct ctl_conn *c, int argc, char **argv)
{
	struct ini_daemon *d = ctl_daemon(c);
	struct pr_req *r = calloc(1, sizeof(*r));
	const char *err = "out of memory";
	struct ini_lu *lu = NULL;
	if (!r || pr_parse(r, argc, argv, &err) < 0) {
		ctl_end(c, 7, err);
		free(r);
		return;
	}
	if (!(lu = pr_find_lu(d, argv[1])) || !pr_choose(r, lu, argv[2])) {
		ctl_end(c, 21, lu ? "no such path up for this LU" : "no such LU");
		free(r);
		return;
	}
	r->c = c;
	r->d = d;
	r->hold.gone = pr_gone;
	ctl_hold(c, &r->hold);
	r->timer.fn = pr_timeout;
	kloop_timer_start(d->loop, &r->timer, d->o.cmd_timeout_ms ? d->o.cmd_timeout_ms : 30000);
	r->left = r->n + 1; /* + 1: r stays while the loop below runs */
	for (int i = 0; i < r->n; i++)
		if (pr_send(&r->one[i]) < 0)
			pr_finish_one(&r->one[i]);
	pr_drop(r);
}
