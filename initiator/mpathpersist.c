/* SPDX-License-Identifier: Apache-2.0 */
/* kura-mpathpersist: mpathpersist(8)'s options, checks, messages and exit
 * codes (multipath-tools 0.9.4), acting on a LU of kura-initiatord through
 * the daemon's paths (mpathpersist.h). As mpathpersist does:
 *
 *   --in                           one path that is up (the one carrying
 *                                  I/O first); another if it fails
 *   --register, --register-ignore  every path that is up, each on its own
 *                                  I_T nexus; a RESERVATION CONFLICT on one
 *                                  rolls --register back on the others
 *   --reserve, --preempt, --preempt-abort, --clear   one path
 *   --release                      every path that is up, then READ
 *                                  RESERVATION: still held is an error
 *
 * Not supported (exit 1, said on stderr): --transport-id.
 * Not for: finding the LU (mpathpersist_lu.c), printing (mpathpersist_print.c).
 */
#include "initiator/mpathpersist.h"
#include "initiator/ctl_client.h"
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { PRIN_RKEY, PRIN_RRES, PRIN_RCAP, PRIN_RFSTAT };
enum { PROUT_REG, PROUT_RES, PROUT_REL, PROUT_CLEAR, PROUT_PREE, PROUT_PREE_AB, PROUT_REG_IGN };
#define OPT_CTL 0x100

struct mpp_args {
	bool in, out, hex, alltgpt, aptpl, help;
	int n_in, n_out, in_sa, out_sa;
	uint64_t rk, sark;
	unsigned type, alloc_len;
	int verbose;
	const char *dev, *ctl;
	char *batch;
};

struct mpp_ctx {
	FILE *out, *err;
	int verbose; /* -v of the command line; batch lines ignore theirs */
	const char *sock;
	struct mpp_res res[MPP_MAX_PATHS];
};

static const struct option long_opts[] = {
	{ "verbose", 1, NULL, 'v' },
	{ "clear", 0, NULL, 'C' },
	{ "device", 1, NULL, 'd' },
	{ "batch-file", 1, NULL, 'f' },
	{ "help", 0, NULL, 'h' },
	{ "hex", 0, NULL, 'H' },
	{ "in", 0, NULL, 'i' },
	{ "out", 0, NULL, 'o' },
	{ "param-alltgpt", 0, NULL, 'Y' },
	{ "param-aptpl", 0, NULL, 'Z' },
	{ "param-rk", 1, NULL, 'K' },
	{ "param-sark", 1, NULL, 'S' },
	{ "preempt", 0, NULL, 'P' },
	{ "preempt-abort", 0, NULL, 'A' },
	{ "prout-type", 1, NULL, 'T' },
	{ "read-full-status", 0, NULL, 's' },
	{ "read-keys", 0, NULL, 'k' },
	{ "read-reservation", 0, NULL, 'r' },
	{ "register", 0, NULL, 'G' },
	{ "register-ignore", 0, NULL, 'I' },
	{ "release", 0, NULL, 'L' },
	{ "report-capabilities", 0, NULL, 'c' },
	{ "reserve", 0, NULL, 'R' },
	{ "transport-id", 1, NULL, 'X' },
	{ "alloc-length", 1, NULL, 'l' },
	{ "ctl", 1, NULL, OPT_CTL },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *err)
{
	fprintf(err,
		"kura-mpathpersist (mpathpersist 0.9.4 syntax)\n"
		"Usage: kura-mpathpersist [OPTIONS] [DEVICE]\n"
		" DEVICE: a LU of kura-initiatord by WWID (naa.<hex>), alias (<target>-lun<N>),\n"
		"         FUSE file, NBD socket (or nbd+unix:// URL), or a link to them\n"
		" Options:\n"
		"    --verbose|-v level         verbosity level (0..4; 3: each path's answer)\n"
		"    --clear|-C                 PR Out: Clear\n"
		"    --device=DEVICE|-d DEVICE  query or change DEVICE\n"
		"    --batch-file|-f FILE       run commands from FILE\n"
		"    --help|-h                  output this usage message\n"
		"    --hex|-H                   output response in hex\n"
		"    --in|-i                    request PR In command\n"
		"    --out|-o                   request PR Out command\n"
		"    --param-alltgpt|-Y         PR Out parameter 'ALL_TG_PT'\n"
		"    --param-aptpl|-Z           PR Out parameter 'APTPL'\n"
		"    --read-keys|-k             PR In: Read Keys\n"
		"    --param-rk=RK|-K RK        PR Out parameter reservation key (hex)\n"
		"    --param-sark=SARK|-S SARK  PR Out parameter service action\n"
		"                               reservation key (SARK is in hex)\n"
		"    --preempt|-P               PR Out: Preempt\n"
		"    --preempt-abort|-A         PR Out: Preempt and Abort\n"
		"    --prout-type=TYPE|-T TYPE  PR Out command type\n"
		"    --read-full-status|-s      PR In: Read Full Status\n"
		"    --read-reservation|-r      PR In: Read Reservation\n"
		"    --register|-G              PR Out: Register (on every path)\n"
		"    --register-ignore|-I       PR Out: Register and Ignore (on every path)\n"
		"    --release|-L               PR Out: Release\n"
		"    --report-capabilities|-c   PR In: Report Capabilities\n"
		"    --reserve|-R               PR Out: Reserve\n"
		"    --alloc-length=LEN|-l LEN  PR In: maximum allocation length (<= 8192)\n"
		"    --ctl PATH                 kura-initiatord's control socket\n"
		"                               (default $KURA_INITIATORD_SOCK or /run/kura/initiatord.sock)\n"
		" Exit status: 0 success, 1 syntax, 2..9 sense (2 not ready, 5 illegal request,\n"
		"  6 unit attention...), 11 reservation conflict, 12 no such file, 13 not a\n"
		"  kura LU / no path / daemon unreachable, 15 other (mpathpersist's MPATH_PR_*)\n");
}

/* ---- options ---------------------------------------------------------------- */

static int bad_arg(FILE *err, const char *what)
{
	fprintf(err, "bad argument to '--%s'\n", what);
	return MPATH_PR_SYNTAX_ERROR;
}

static int opt_hex64(const char *s, uint64_t *v, FILE *err, const char *what)
{
	return sscanf(s, "%" SCNx64, v) == 1 ? 0 : bad_arg(err, what);
}

static int opt_sa(struct mpp_args *a, int c)
{
	static const char in[] = "krcs", out[] = "GRLCPAI";
	const char *p = strchr(in, c);
	if (p) {
		a->in_sa = (int)(p - in);
		a->n_in++;
		return 1;
	}
	if ((p = strchr(out, c))) {
		a->out_sa = (int)(p - out);
		a->n_out++;
		return 1;
	}
	return 0;
}

static int opt_value(struct mpp_args *a, int c, int nline, FILE *err)
{
	switch (c) {
	case 'v':
		return nline || sscanf(optarg, "%d", &a->verbose) == 1 ? 0
								       : bad_arg(err, "verbose");
	case 'K': return opt_hex64(optarg, &a->rk, err, "param-rk");
	case 'S': return opt_hex64(optarg, &a->sark, err, "param-sark");
	case 'T': return sscanf(optarg, "%x", &a->type) == 1 ? 0 : bad_arg(err, "prout-type");
	case 'l':
		if (sscanf(optarg, "%u", &a->alloc_len) != 1)
			return bad_arg(err, "alloc-length");
		if (a->alloc_len > MPP_MAX_PARAM) {
			fprintf(err, "'--alloc-length' argument exceeds maximum limit(%d)\n",
				MPP_MAX_PARAM);
			return MPATH_PR_SYNTAX_ERROR;
		}
		return 0;
	case 'X':
		fprintf(err, "--transport-id is not supported by kura-mpathpersist\n");
		return MPATH_PR_SYNTAX_ERROR;
	case 'f':
		if (nline) {
			fprintf(err, "ERROR: -f option not allowed in batch file\n");
			return MPATH_PR_SYNTAX_ERROR;
		}
		if (a->batch) {
			fprintf(err, "ERROR: -f option can be used at most once\n");
			return MPATH_PR_SYNTAX_ERROR;
		}
		a->batch = strdup(optarg);
		return 0;
	}
	fprintf(err, "unrecognised switch code 0x%x ??\n", c);
	return MPATH_PR_SYNTAX_ERROR;
}

static int opt_one(struct mpp_args *a, int c, int nline, FILE *err)
{
	switch (c) {
	case 'd': a->dev = optarg; return 0;
	case 'h': a->help = true; return 0;
	case 'H': a->hex = true; return 0;
	case 'i': a->in = true; return 0;
	case 'o': a->out = true; return 0;
	case 'Y': a->alltgpt = true; return 0;
	case 'Z': a->aptpl = true; return 0;
	case OPT_CTL: a->ctl = optarg; return 0;
	}
	return opt_sa(a, c) ? 0 : opt_value(a, c, nline, err);
}

static int parse(struct mpp_args *a, int argc, char **argv, int nline, FILE *err)
{
	int c, rc = 0;
	memset(a, 0, sizeof(*a));
	a->alloc_len = MPP_MAX_PARAM;
	optind = 0;
	opterr = 1;
	while (!rc && (c = getopt_long(argc, argv, "v:Cd:hHioYZK:S:PAT:skrGILcRX:l:f:", long_opts,
				       NULL)) != -1)
		rc = c == '?' ? MPATH_PR_SYNTAX_ERROR : opt_one(a, c, nline, err);
	if (rc || a->help)
		return rc;
	if (optind < argc && !a->dev)
		a->dev = argv[optind++];
	for (int i = optind; i < argc; i++)
		fprintf(err, "Unexpected extra argument: %s\n", argv[i]);
	return optind < argc ? MPATH_PR_SYNTAX_ERROR : 0;
}

/* mpathpersist's checks, in its order. */
static int check(const struct mpp_args *a, FILE *err)
{
	if (a->in == a->out) {
		fprintf(err, "choose either '--in' or '--out' \n");
		return MPATH_PR_SYNTAX_ERROR;
	}
	if (a->out && (a->n_out != 1 || a->n_in)) {
		fprintf(err,
			" For Persistent Reserve Out only one appropriate\n"
			" service action must be chosen \n");
		return MPATH_PR_SYNTAX_ERROR;
	}
	if (a->in && a->n_out) {
		fprintf(err,
			" When a service action for Persistent Reserve Out is chosen the\n"
			" '--out' option must be given \n");
		return MPATH_PR_SYNTAX_ERROR;
	}
	if (a->in && a->n_in != 1) {
		fprintf(err, a->n_in ? " Too many service actions given; choose one only\n"
				     : " No service action given for Persistent Reserve IN\n");
		return MPATH_PR_SYNTAX_ERROR;
	}
	bool typed = a->out_sa == PROUT_RES || a->out_sa == PROUT_REL || a->out_sa == PROUT_PREE ||
		     a->out_sa == PROUT_PREE_AB;
	if (a->out && typed && !a->type)
		fprintf(err, "Warning: --prout-type probably needs to be given\n");
	if (!a->dev) {
		fprintf(err, "No device name given \n");
		return MPATH_PR_SYNTAX_ERROR;
	}
	return 0;
}

/* ---- PR IN ------------------------------------------------------------------ */

static void trace(struct mpp_ctx *x, const struct mpp_lu *lu, const char *what, int n)
{
	if (x->verbose < 3)
		return;
	for (int i = 0; i < n; i++) {
		const struct mpp_res *r = &x->res[i];
		fprintf(x->err, "%s: %s on path %d (%s:%d): status %d, sense %x/%02x/%02x%s%s\n",
			lu->wwid, what, r->sid, r->address, r->port, r->status, r->key, r->asc,
			r->ascq, r->error[0] ? ", " : "", r->error);
	}
}

/* One command on "any" path; on failure, on each other up path in turn
 * (a success or INVALID OPERATION stops, as in mpathpersist). */
static int send_one(struct mpp_ctx *x, const struct mpp_lu *lu, const uint8_t cdb[10],
		    const uint8_t *param, size_t plen, const char *what)
{
	int n = 0, code = mpp_send(x->sock, lu, "any", cdb, param, plen, x->res, 1, &n, x->err);
	if (code || !n)
		return code ? code : MPATH_PR_DMMP_ERROR;
	trace(x, lu, what, n);
	int first = x->res[0].sid;
	code = mpp_code(&x->res[0]);
	for (int i = 0;
	     i < lu->n_paths && cdb[0] == 0x5e && code && code != MPATH_PR_SENSE_INVALID_OP; i++) {
		char sid[16];
		if (lu->paths[i].sid == first || strcmp(lu->paths[i].state, "up"))
			continue;
		snprintf(sid, sizeof(sid), "%d", lu->paths[i].sid);
		if (mpp_send(x->sock, lu, sid, cdb, param, plen, x->res, 1, &n, x->err) || !n)
			continue;
		trace(x, lu, what, n);
		code = mpp_code(&x->res[0]);
	}
	return code;
}

static int do_in(struct mpp_ctx *x, const struct mpp_args *a, const struct mpp_lu *lu)
{
	uint8_t cdb[10] = { 0x5e,
			    (uint8_t)a->in_sa,
			    0,
			    0,
			    0,
			    0,
			    0,
			    (uint8_t)(a->alloc_len >> 8),
			    (uint8_t)a->alloc_len };
	int code = send_one(x, lu, cdb, NULL, 0, "pr in");
	if (code) {
		fprintf(x->err, "Persistent Reserve IN command failed\n");
		return code;
	}
	const struct mpp_res *r = &x->res[0];
	if (a->hex || x->verbose >= 3)
		mpp_print_hex(x->out, r->data, r->len);
	switch (a->in_sa) {
	case PRIN_RKEY: mpp_print_keys(x->out, r->data, r->len); break;
	case PRIN_RRES: mpp_print_resv(x->out, r->data, r->len); break;
	case PRIN_RCAP: mpp_print_caps(x->out, x->err, r->data, r->len); break;
	default: mpp_print_full(x->out, r->data, r->len); break;
	}
	return 0;
}

/* ---- PR OUT ----------------------------------------------------------------- */

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static void out_cdb(uint8_t cdb[10], uint8_t param[24], int sa, unsigned type, uint64_t rk,
		    uint64_t sark, uint8_t flags)
{
	memset(cdb, 0, 10);
	memset(param, 0, 24);
	cdb[0] = 0x5f;
	cdb[1] = (uint8_t)sa;
	cdb[2] = (uint8_t)(type & 0x0f); /* LU_SCOPE */
	cdb[8] = 24;
	put64(param, rk);
	put64(param + 8, sark);
	param[20] = flags;
}

/* Every path's answer folded as mpathpersist does: a conflict anywhere
 * wins, else the first failure in path order. */
static int fold(const struct mpp_res *res, int n, bool *conflict)
{
	int code = MPATH_PR_SUCCESS;
	*conflict = false;
	for (int i = 0; i < n; i++) {
		int c = mpp_code(&res[i]);
		*conflict |= c == MPATH_PR_RESERV_CONFLICT;
		if (!code)
			code = c;
	}
	return *conflict ? MPATH_PR_RESERV_CONFLICT : code;
}

/* REGISTER took on some paths and met a conflict on another: register the
 * old key back (key = SARK, SARK = 0) on the paths where it took. */
static void rollback(struct mpp_ctx *x, const struct mpp_lu *lu, int n, uint64_t sark,
		     uint8_t flags)
{
	uint8_t cdb[10], param[24];
	struct mpp_res back[1];
	out_cdb(cdb, param, PROUT_REG, 0, sark, 0, flags & ~0x08);
	for (int i = 0; i < n; i++) {
		char sid[16];
		int m = 0;
		if (mpp_code(&x->res[i]))
			continue;
		snprintf(sid, sizeof(sid), "%d", x->res[i].sid);
		if (x->verbose >= 3)
			fprintf(x->err, "%s: rolling back the registration on path %s\n", lu->wwid,
				sid);
		mpp_send(x->sock, lu, sid, cdb, param, 24, back, 1, &m, x->err);
	}
}

static int out_all(struct mpp_ctx *x, const struct mpp_lu *lu, const uint8_t cdb[10],
		   const uint8_t param[24], int *n)
{
	int code = mpp_send(x->sock, lu, "all", cdb, param, 24, x->res, MPP_MAX_PATHS, n, x->err);
	if (code)
		return code;
	trace(x, lu, "pr out", *n);
	return *n ? MPATH_PR_SUCCESS : MPATH_PR_DMMP_ERROR;
}

static int do_register(struct mpp_ctx *x, const struct mpp_args *a, const struct mpp_lu *lu,
		       const uint8_t cdb[10], const uint8_t param[24])
{
	int n = 0;
	bool conflict;
	int code = out_all(x, lu, cdb, param, &n);
	if (code)
		return code;
	code = fold(x->res, n, &conflict);
	if (conflict && a->out_sa == PROUT_REG && a->sark)
		rollback(x, lu, n, a->sark, param[20]);
	return code;
}

/* Is the LU still reserved after RELEASE on every path? */
static int release_check(struct mpp_ctx *x, const struct mpp_args *a, const struct mpp_lu *lu)
{
	uint8_t cdb[10] = { 0x5e, PRIN_RRES, 0, 0, 0, 0, 0, 0, 24 };
	if (send_one(x, lu, cdb, NULL, 0, "pr in")) {
		fprintf(x->err, "%s: pr in read reservation command failed.\n", lu->wwid);
		return MPATH_PR_OTHER;
	}
	const struct mpp_res *r = &x->res[0];
	if (r->len < 24 || (r->data[4] | r->data[5] | r->data[6] | r->data[7]) == 0)
		return MPATH_PR_SUCCESS;
	uint64_t key = 0;
	for (int i = 0; i < 8; i++)
		key = key << 8 | r->data[8 + i];
	if (key == a->rk) {
		fprintf(x->err,
			"%s: the reservation is held through a path that is not up; release again "
			"when it is back, or --clear\n",
			lu->wwid);
		return MPATH_PR_OTHER;
	}
	fprintf(x->err, "%s: reserved by another I_T nexus (key 0x%" PRIx64 ")\n", lu->wwid, key);
	return MPATH_PR_RESERV_CONFLICT;
}

static int do_release(struct mpp_ctx *x, const struct mpp_args *a, const struct mpp_lu *lu,
		      const uint8_t cdb[10], const uint8_t param[24])
{
	int n = 0;
	bool conflict;
	int code = out_all(x, lu, cdb, param, &n);
	if (!code)
		code = fold(x->res, n, &conflict);
	return code ? code : release_check(x, a, lu);
}

static int do_out(struct mpp_ctx *x, const struct mpp_args *a, const struct mpp_lu *lu)
{
	uint8_t cdb[10], param[24];
	uint8_t flags = (uint8_t)((a->alltgpt ? 0x04 : 0) | (a->aptpl ? 0x01 : 0));
	out_cdb(cdb, param, a->out_sa, a->type, a->rk, a->sark, flags);
	int code;
	if (a->out_sa == PROUT_REG || a->out_sa == PROUT_REG_IGN)
		code = do_register(x, a, lu, cdb, param);
	else if (a->out_sa == PROUT_REL)
		code = do_release(x, a, lu, cdb, param);
	else
		code = send_one(x, lu, cdb, param, 24, "pr out");
	if (code == MPATH_PR_SENSE_UNIT_ATTENTION)
		fprintf(x->out, "persistent reserve out: scsi status: Unit Attention\n");
	else if (code == MPATH_PR_RESERV_CONFLICT)
		fprintf(x->out, "persistent reserve out: scsi status: Reservation Conflict\n");
	if (code)
		fprintf(x->out, "PR out: command failed\n");
	return code;
}

/* ---- one command line (or batch file line) ---------------------------------- */

static int run_batch(struct mpp_ctx *x, const char *file);

static int run(struct mpp_ctx *x, const struct mpp_args *a)
{
	struct mpp_lu lu;
	int rc = mpp_resolve(x->sock, a->dev, &lu, x->err);
	if (rc == MPATH_PR_DMMP_ERROR) /* mpathpersist's libmpathpersist failing */
		fprintf(a->in ? x->err : x->out, "%s\n",
			a->in ? "Persistent Reserve IN command failed" : "PR out: command failed");
	if (rc)
		return rc;
	return a->in ? do_in(x, a, &lu) : do_out(x, a, &lu);
}

static int handle(struct mpp_ctx *x, int argc, char **argv, int nline)
{
	struct mpp_args a;
	int rc = parse(&a, argc, argv, nline, x->err);
	if (!rc && a.help) {
		usage(x->err);
		free(a.batch);
		return 0;
	}
	if (!nline) {
		x->verbose = a.verbose;
		x->sock = ctlc_sock_path(a.ctl);
	}
	bool only_batch = !rc && !a.in && !a.out && a.batch; /* mpathpersist -f FILE */
	if (!rc && !only_batch && !(rc = check(&a, x->err)))
		rc = run(x, &a);
	if (rc == MPATH_PR_SYNTAX_ERROR && !nline)
		usage(x->err);
	else if (rc == MPATH_PR_SYNTAX_ERROR)
		fprintf(x->err, "syntax error on line %d in batch file\n", nline);
	else if (a.batch) {
		int b = run_batch(x, a.batch);
		rc = rc ? rc : b;
	}
	free(a.batch);
	return rc;
}

static int batch_line(struct mpp_ctx *x, char *line, int nline)
{
	char *argv[64] = { "mpathpersist" }, *save = NULL;
	int argc = 1;
	for (char *t = strtok_r(line, " \t\n", &save); t && *t != '#' && argc < 63;
	     t = strtok_r(NULL, " \t\n", &save))
		if (argc > 1 || strcmp(t, "mpathpersist"))
			argv[argc++] = t;
	argv[argc] = NULL;
	return argc > 1 ? handle(x, argc, argv, nline) : 0;
}

static int run_batch(struct mpp_ctx *x, const char *file)
{
	FILE *f = fopen(file, "r");
	if (!f) {
		fprintf(x->err, "unable to open %s: %m\n", file);
		return MPATH_PR_SYNTAX_ERROR;
	}
	char line[4096];
	int nline = 0, ret = 0;
	while (fgets(line, sizeof(line), f)) {
		int rc = batch_line(x, line, ++nline);
		if (rc)
			ret = rc;
	}
	fclose(f);
	return ret;
}

int mpp_main(int argc, char **argv, FILE *out, FILE *err)
{
	if (argc < 2) {
		fprintf(err, "No parameter used\n");
		usage(err);
		return MPATH_PR_SYNTAX_ERROR;
	}
	struct mpp_ctx *x = calloc(1, sizeof(*x));
	if (!x)
		return MPATH_PR_OTHER;
	x->out = out;
	x->err = err;
	int rc = handle(x, argc, argv, 0);
	free(x);
	return rc;
}
