/* SPDX-License-Identifier: Apache-2.0 */
/* kura-mpathpersist's side of the control socket: which LU a device
 * argument names (STATUS), which paths it has (SESSIONS), and one PR
 * command sent through the daemon (verb PR, ctl_proto.h).
 *
 * A device argument is, in this order: the LU's WWID (naa.<hex>, <hex>,
 * or scsi_id's 3<hex>), its alias (<target>-lun<N>), an
 * nbd+unix:///?socket=PATH URL, or a path that resolves (realpath) to the
 * LU's FUSE file or NBD socket: the file itself, the alias link, or any
 * link to them (by-id, by-path). A path that does not exist is
 * MPATH_PR_FILE_ERROR (mpathpersist cannot open it); an existing file that
 * is no kura LU is MPATH_PR_DMMP_ERROR (mpathpersist: not a multipath map).
 *
 * Not for: options and output (mpathpersist.c, mpathpersist_print.c).
 */
#include "initiator/mpathpersist.h"
#include "initiator/ctl_client.h"
#include "common/hex.h"
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MPP_CTL_TIMEOUT_MS 60000

static int call(const char *sock, int argc, const char *const *argv, struct ctlc_reply *rep,
		FILE *err)
{
	int rc = ctlc_call(sock, argc, argv, MPP_CTL_TIMEOUT_MS, rep);
	if (rc < 0) {
		fprintf(err, "cannot reach kura-initiatord at %s: %s\n", sock, strerror(-rc));
		return MPATH_PR_DMMP_ERROR;
	}
	return MPATH_PR_SUCCESS;
}

static void kv(const char *line, const char *key, char *out, size_t len)
{
	if (ctlc_kv_get(line, key, out, len) < 0)
		out[0] = 0;
}

/* The name matches this LU's WWID or alias (also without "naa." or as
 * scsi_id prints NAA identities, "3" + hex). */
static bool name_is(const char *name, const char *wwid, const char *alias)
{
	const char *hex = strncmp(wwid, "naa.", 4) ? wwid : wwid + 4;
	return !strcmp(name, wwid) || !strcmp(name, alias) || !strcasecmp(name, hex) ||
	       (name[0] == '3' && !strcasecmp(name + 1, hex));
}

static bool same_file(const char *real, const char *dir, const char *name, const char *suffix)
{
	char p[PATH_MAX + 64], r[PATH_MAX];
	if (!dir[0] || !strcmp(dir, "-"))
		return false;
	snprintf(p, sizeof(p), "%s/%s%s", dir, name, suffix);
	return realpath(p, r) && !strcmp(r, real);
}

/* Does the resolved path real name this LU's FUSE file or NBD socket? */
static bool path_is(const char *real, const char *fuse, const char *nbd, const char *wwid,
		    const char *alias)
{
	return same_file(real, fuse, wwid, "") || same_file(real, fuse, alias, "") ||
	       same_file(real, nbd, wwid, ".sock") || same_file(real, nbd, alias, ".sock");
}

static const char *strip_url(const char *dev)
{
	const char *s = strstr(dev, "socket=");
	return !strncmp(dev, "nbd+unix:", 9) && s ? s + 7 : dev;
}

static int find_lu(const struct ctlc_reply *st, const char *dev, struct mpp_lu *lu, FILE *err)
{
	char fuse[PATH_MAX], nbd[PATH_MAX], real[PATH_MAX] = "";
	kv(st->nlines ? st->lines[0] : "", "fuse", fuse, sizeof(fuse));
	kv(st->nlines ? st->lines[0] : "", "nbd", nbd, sizeof(nbd));
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && !realpath(strip_url(dev), real)) {
			fprintf(err, "%s: error opening file (rw) fd=-1\n", dev);
			return MPATH_PR_FILE_ERROR;
		}
		for (int i = 1; i < st->nlines; i++) {
			kv(st->lines[i], "lu", lu->wwid, sizeof(lu->wwid));
			kv(st->lines[i], "alias", lu->alias, sizeof(lu->alias));
			if (!lu->wwid[0])
				continue;
			if (pass == 0 ? name_is(dev, lu->wwid, lu->alias)
				      : path_is(real, fuse, nbd, lu->wwid, lu->alias))
				return MPATH_PR_SUCCESS;
		}
	}
	fprintf(err, "%s: not a LU of kura-initiatord\n", dev);
	return MPATH_PR_DMMP_ERROR;
}

static bool list_has(const char *list, const char *item)
{
	size_t n = strlen(item);
	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, item, n) && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

static void add_path(struct mpp_lu *lu, const char *line)
{
	char v[512];
	kv(line, "lu", v, sizeof(v));
	if (!list_has(v, lu->wwid) || lu->n_paths >= MPP_MAX_PATHS)
		return;
	struct mpp_path *p = &lu->paths[lu->n_paths++];
	kv(line, "sid", v, sizeof(v));
	p->sid = atoi(v);
	kv(line, "address", p->address, sizeof(p->address));
	kv(line, "port", v, sizeof(v));
	p->port = atoi(v);
	kv(line, "state", p->state, sizeof(p->state));
	kv(line, "active", v, sizeof(v));
	p->active = !strcmp(v, "yes");
}

int mpp_resolve(const char *sock, const char *dev, struct mpp_lu *lu, FILE *err)
{
	struct ctlc_reply st, ss;
	const char *status[] = { "STATUS" }, *sessions[] = { "SESSIONS" };
	memset(lu, 0, sizeof(*lu));
	int rc = call(sock, 1, status, &st, err);
	if (rc)
		return rc;
	rc = find_lu(&st, dev, lu, err);
	ctlc_reply_free(&st);
	if (rc || (rc = call(sock, 1, sessions, &ss, err)))
		return rc;
	for (int i = 0; i < ss.nlines; i++)
		add_path(lu, ss.lines[i]);
	ctlc_reply_free(&ss);
	return MPATH_PR_SUCCESS;
}

/* ---- PR ---------------------------------------------------------------- */

static void hexstr(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = 0;
}

static void parse_res(const char *line, struct mpp_res *r)
{
	char v[64];
	memset(r, 0, sizeof(*r));
	kv(line, "sid", v, sizeof(v));
	r->sid = atoi(v);
	kv(line, "address", r->address, sizeof(r->address));
	kv(line, "port", v, sizeof(v));
	r->port = atoi(v);
	kv(line, "status", v, sizeof(v));
	r->status = !strncmp(v, "0x", 2)    ? (int)strtol(v, NULL, 16)
		    : !strcmp(v, "timeout") ? -2
					    : -1;
	kv(line, "sense", v, sizeof(v));
	if (sscanf(v, "%x/%x/%x", (unsigned *)&r->key, (unsigned *)&r->asc, (unsigned *)&r->ascq) !=
	    3)
		r->key = r->asc = r->ascq = 0;
	const char *e = strstr(line, " error=");
	snprintf(r->error, sizeof(r->error), "%s", e && strcmp(e + 7, "-") ? e + 7 : "");
}

static void add_data(struct mpp_res *r, const char *hex)
{
	for (; hex[0] && hex[1] && r->len < sizeof(r->data); hex += 2)
		r->data[r->len++] = (uint8_t)(khex_val(hex[0]) << 4 | khex_val(hex[1]));
}

int mpp_send(const char *sock, const struct mpp_lu *lu, const char *which, const uint8_t cdb[10],
	     const uint8_t *param, size_t plen, struct mpp_res *res, int max, int *n, FILE *err)
{
	char c[32], p[2 * MPP_MAX_PARAM + 1];
	hexstr(cdb, 10, c);
	hexstr(param, plen, p);
	const char *argv[] = { "PR", lu->wwid, which, c, p };
	struct ctlc_reply rep;
	*n = 0;
	int rc = call(sock, plen ? 5 : 4, argv, &rep, err);
	if (rc)
		return rc;
	if (rep.code) {
		fprintf(err, "%s: %s\n", lu->wwid,
			rep.code == 21 ? "no path available"
			: rep.msg      ? rep.msg
				       : "refused");
		rc = rep.code == 21 ? MPATH_PR_DMMP_ERROR : MPATH_PR_OTHER;
	}
	for (int i = 0; i < rep.nlines && !rc; i++) {
		if (!strncmp(rep.lines[i], "data=", 5) && *n)
			add_data(&res[*n - 1], rep.lines[i] + 5);
		else if (!strncmp(rep.lines[i], "sid=", 4) && *n < max)
			parse_res(rep.lines[i], &res[(*n)++]);
	}
	ctlc_reply_free(&rep);
	return rc;
}

/* CHECK CONDITION by sense key (libmpathpersist: ILLEGAL REQUEST is 5
 * whatever the ASC, RECOVERED ERROR counts as success). */
static int sense_code(int key)
{
	switch (key) {
	case 0x0: return MPATH_PR_NO_SENSE;
	case 0x1: return MPATH_PR_SUCCESS;
	case 0x2: return MPATH_PR_SENSE_NOT_READY;
	case 0x3: return MPATH_PR_SENSE_MEDIUM_ERROR;
	case 0x4: return MPATH_PR_SENSE_HARDWARE_ERROR;
	case 0x5: return MPATH_PR_ILLEGAL_REQ;
	case 0x6: return MPATH_PR_SENSE_UNIT_ATTENTION;
	case 0xb: return MPATH_PR_SENSE_ABORTED_COMMAND;
	default: return MPATH_PR_OTHER;
	}
}

int mpp_code(const struct mpp_res *r)
{
	switch (r->status) {
	case 0x00: return MPATH_PR_SUCCESS;
	case 0x02: return sense_code(r->key);
	case 0x18: return MPATH_PR_RESERV_CONFLICT;
	default: return MPATH_PR_OTHER; /* BUSY, transport error, no answer */
	}
}
