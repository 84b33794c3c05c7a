/* SPDX-License-Identifier: Apache-2.0 */
/* kura-iscsiadm: command line parsing, the mode / option table, the exit
 * code texts, and main dispatch.
 *
 * For: accepting open-iscsi iscsiadm's syntax (long and short options) and
 * refusing what a mode does not support with exit 7 before anything is
 * touched. Not for: doing the work (iscsiadm_node.c, _disc.c, _session.c,
 * _iface.c).
 */
#include "initiator/iscsiadm.h"
#include "initiator/ctl_client.h"
#include "initiator/discovery.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const err_text[] = {
	[0] = "",
	[1] = "unknown error",
	[2] = "session not found",
	[3] = "no available memory",
	[4] = "encountered connection failure",
	[5] = "encountered iSCSI login failure",
	[6] = "encountered iSCSI database failure",
	[7] = "invalid parameter",
	[8] = "connection timed out",
	[9] = "internal error",
	[10] = "encountered iSCSI logout failure",
	[11] = "iSCSI PDU timed out",
	[12] = "iSCSI driver not found. Please make sure it is loaded, and retry the operation",
	[13] = "daemon access denied",
	[14] = "iSCSI driver does not support requested capability.",
	[15] = "session exists",
	[16] = "Unknown request",
	[17] = "iSNS service not supported",
	[18] = "could not communicate to iscsid",
	[19] = "encountered non-retryable iSCSI login failure",
	[20] = "could not connect to iscsid",
	[21] = "no objects found",
	[22] = "sysfs lookup failure",
	[23] = "host not found",
	[24] = "iSCSI login failed due to authorization failure",
	[25] = "iSNS query failed",
	[26] = "iSNS registration failed",
	[27] = "operation not supported",
	[28] = "device or resource in use",
	[29] = "operation failed but retry may succeed",
	[30] = "unknown discovery type",
	[31] = "child process terminated",
	[32] = "session not connected",
};

const char *adm_err_str(int code)
{
	if (code < 0 || code >= (int)(sizeof(err_text) / sizeof(err_text[0])) || !err_text[code])
		return "unknown error";
	return err_text[code];
}

void adm_errf(struct adm *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("iscsiadm: ", a->err);
	vfprintf(a->err, fmt, ap);
	fputc('\n', a->err);
	va_end(ap);
}

void adm_fmt_portal(char *buf, size_t len, const char *addr, unsigned port)
{
	snprintf(buf, len, strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, port);
}

/* ---- the mode table ------------------------------------------------- */

#define OB_GLOBAL 0u
static const struct mode_rule {
	const char *name;
	enum adm_mode mode;
	unsigned opts; /* OB_* allowed */
	unsigned ops;  /* ADM_OP_* allowed */
	bool multi_op; /* -o may repeat */
} mode_rules[] = {
	{ "discovery", ADM_M_DISCOVERY,
	  OB_p | OB_t | OB_I | OB_o | OB_n | OB_v | OB_l | OB_P | OB_S | OB_D,
	  ADM_OP_NEW | ADM_OP_DELETE | ADM_OP_UPDATE | ADM_OP_NONPERSISTENT, true },
	{ "discoverydb", ADM_M_DISCOVERYDB,
	  OB_p | OB_t | OB_I | OB_o | OB_n | OB_v | OB_l | OB_P | OB_S | OB_D,
	  ADM_OP_NEW | ADM_OP_DELETE | ADM_OP_UPDATE | ADM_OP_SHOW | ADM_OP_NONPERSISTENT, true },
	{ "node", ADM_M_NODE,
	  OB_p | OB_T | OB_I | OB_o | OB_n | OB_v | OB_l | OB_u | OB_L | OB_U | OB_P | OB_S,
	  ADM_OP_NEW | ADM_OP_DELETE | ADM_OP_UPDATE | ADM_OP_SHOW, false },
	{ "session", ADM_M_SESSION, OB_r | OB_R | OB_P | OB_u | OB_S | OB_s, 0, false },
	{ "iface", ADM_M_IFACE, OB_I | OB_o | OB_n | OB_v | OB_P | OB_S,
	  ADM_OP_NEW | ADM_OP_DELETE | ADM_OP_UPDATE | ADM_OP_SHOW, false },
	{ "fw", ADM_M_FW, OB_l | OB_P | OB_o, ADM_OP_SHOW, false },
	{ "host", ADM_M_HOST, OB_P | OB_o | OB_n | OB_v | OB_r | OB_I,
	  ADM_OP_SHOW | ADM_OP_UPDATE | ADM_OP_DELETE | ADM_OP_NEW, false },
};

static const struct {
	const char *name;
	enum adm_op op;
} op_names[] = {
	{ "new", ADM_OP_NEW },
	{ "delete", ADM_OP_DELETE },
	{ "update", ADM_OP_UPDATE },
	{ "show", ADM_OP_SHOW },
	{ "nonpersistent", ADM_OP_NONPERSISTENT },
};

static const struct option long_opts[] = {
	{ "mode", required_argument, NULL, 'm' },
	{ "portal", required_argument, NULL, 'p' },
	{ "targetname", required_argument, NULL, 'T' },
	{ "interface", required_argument, NULL, 'I' },
	{ "op", required_argument, NULL, 'o' },
	{ "type", required_argument, NULL, 't' },
	{ "name", required_argument, NULL, 'n' },
	{ "value", required_argument, NULL, 'v' },
	{ "sid", required_argument, NULL, 'r' },
	{ "rescan", no_argument, NULL, 'R' },
	{ "print", required_argument, NULL, 'P' },
	{ "discover", no_argument, NULL, 'D' },
	{ "login", no_argument, NULL, 'l' },
	{ "loginall", required_argument, NULL, 'L' },
	{ "logout", no_argument, NULL, 'u' },
	{ "logoutall", required_argument, NULL, 'U' },
	{ "stats", no_argument, NULL, 's' },
	{ "show", no_argument, NULL, 'S' },
	{ "debug", required_argument, NULL, 'd' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ "root", required_argument, NULL, 1 },
	{ "ctl", required_argument, NULL, 2 },
	{ NULL, 0, NULL, 0 },
};
static const char short_opts[] = "+m:p:T:I:o:t:n:v:r:RP:DlL:uU:sSd:Vh";

static const struct {
	char c;
	unsigned bit;
} opt_bits[] = {
	{ 'p', OB_p }, { 'T', OB_T }, { 'I', OB_I }, { 'o', OB_o }, { 't', OB_t }, { 'n', OB_n },
	{ 'v', OB_v }, { 'r', OB_r }, { 'R', OB_R }, { 'P', OB_P }, { 'l', OB_l }, { 'u', OB_u },
	{ 'L', OB_L }, { 'U', OB_U }, { 'S', OB_S }, { 's', OB_s }, { 'D', OB_D },
};

static unsigned bit_of(int c)
{
	for (size_t i = 0; i < sizeof(opt_bits) / sizeof(opt_bits[0]); i++)
		if (opt_bits[i].c == c)
			return opt_bits[i].bit;
	return 0;
}

static char letter_of(unsigned bit)
{
	for (size_t i = 0; i < sizeof(opt_bits) / sizeof(opt_bits[0]); i++)
		if (opt_bits[i].bit == bit)
			return opt_bits[i].c;
	return '?';
}

static const struct mode_rule *rule_of(enum adm_mode m)
{
	for (size_t i = 0; i < sizeof(mode_rules) / sizeof(mode_rules[0]); i++)
		if (mode_rules[i].mode == m)
			return &mode_rules[i];
	return NULL;
}

#define FAIL(...) \
	do { \
		snprintf(msg, msglen, __VA_ARGS__); \
		return ADM_ERR_INVAL; \
	} while (0)

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int set_mode(struct adm_opts *o, const char *arg, char *msg, size_t msglen)
{
	for (size_t i = 0; i < sizeof(mode_rules) / sizeof(mode_rules[0]); i++)
		if (strcmp(arg, mode_rules[i].name) == 0) {
			o->mode = mode_rules[i].mode;
			return 0;
		}
	if (!strcmp(arg, "flashnode"))
		FAIL("mode '%s' is not supported by kura", arg);
	FAIL("Invalid mode '%s'", arg);
}

static int add_op(struct adm_opts *o, const char *arg, char *msg, size_t msglen)
{
	for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (strcmp(arg, op_names[i].name) == 0) {
			o->ops |= op_names[i].op;
			o->nops++;
			return 0;
		}
	FAIL("Invalid operation '%s'", arg);
}

static int add_nv(const char **v, int *n, const char *arg, char *msg, size_t msglen)
{
	if (*n >= ADM_MAX_NV)
		FAIL("too many -n/-v options (at most %d)", ADM_MAX_NV);
	v[(*n)++] = arg;
	return 0;
}

static bool startup_word(const char *s)
{
	return !strcmp(s, "all") || !strcmp(s, "manual") || !strcmp(s, "automatic") ||
	       !strcmp(s, "onboot");
}

/* One option; 0 or exit code. */
static int take_opt(struct adm_opts *o, int c, char *msg, size_t msglen)
{
	o->seen |= bit_of(c);
	switch (c) {
	case 'm': return set_mode(o, optarg, msg, msglen);
	case 'p':
		o->portal = optarg;
		if (disc_parse_portal(optarg, o->address, sizeof(o->address), &o->port, &o->tpgt))
			FAIL("Invalid portal '%s': use IP[:PORT][,TPGT] ([IPv6]:PORT)", optarg);
		return 0;
	case 'T': o->target = optarg; return 0;
	case 'I': o->iface = optarg; return 0;
	case 'o': return add_op(o, optarg, msg, msglen);
	case 't': o->type = optarg; return 0;
	case 'n': return add_nv(o->names, &o->nnames, optarg, msg, msglen);
	case 'v': return add_nv(o->values, &o->nvalues, optarg, msg, msglen);
	case 'r':
		if (parse_int(optarg, 1, 1 << 30, &o->sid))
			FAIL("invalid sid '%s'", optarg);
		return 0;
	case 'P':
		if (parse_int(optarg, 0, 3, &o->print))
			FAIL("Invalid print level '%s' (0 to 3)", optarg);
		return 0;
	case 'L':
	case 'U':
		if (!startup_word(optarg))
			FAIL("Invalid %s value '%s': all, manual, automatic or onboot",
			     c == 'L' ? "loginall" : "logoutall", optarg);
		*(c == 'L' ? &o->login_all : &o->logout_all) = optarg;
		return 0;
	case 'S': o->show_secrets = true; return 0;
	case 'V': o->version = true; return 0;
	case 'h': o->help = true; return 0;
	case 1: o->root = optarg; return 0;
	case 2: o->ctl = optarg; return 0;
	case 'd':
	case 'R':
	case 'l':
	case 'u':
	case 's':
	case 'D': return 0;
	default: FAIL("invalid option or missing argument (see --help)");
	}
}

static int check_combo(const struct adm_opts *o, char *msg, size_t msglen);

int adm_parse(int argc, char **argv, struct adm_opts *o, char *msg, size_t msglen)
{
	memset(o, 0, sizeof(*o));
	o->tpgt = -1;
	o->print = -1;
	msg[0] = '\0';
	optind = 0; /* glibc: full re-initialisation (tests call us repeatedly) */
	opterr = 0;
	int c, rc;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1)
		if ((rc = take_opt(o, c, msg, msglen)))
			return rc;
	if (optind < argc)
		FAIL("unexpected argument '%s'", argv[optind]);
	if (o->help || o->version)
		return 0;
	if (o->mode == ADM_M_NONE)
		FAIL("no mode given: use -m discovery|discoverydb|node|session|iface");
	return check_combo(o, msg, msglen);
}

/* ---- per-mode checks ----------------------------------------------- */

static int check_nv(const struct adm_opts *o, char *msg, size_t msglen)
{
	if (o->nnames != o->nvalues)
		FAIL("each -n NAME needs one -v VALUE");
	if (o->nnames && !(o->ops & (ADM_OP_UPDATE | ADM_OP_NEW)))
		FAIL("-n/-v are only used with -o update (or -o new)");
	if ((o->ops & ADM_OP_UPDATE) && !o->nnames)
		FAIL("Update requires name and value");
	return 0;
}

static int check_discovery(const struct adm_opts *o, char *msg, size_t msglen)
{
	bool list = !o->portal && !o->type && !o->nops && !(o->seen & (OB_l | OB_D));
	if (list)
		return 0; /* list the discovery records */
	if (!o->type)
		FAIL("discovery mode: option '-t' is required");
	if (strcmp(o->type, "st") && strcmp(o->type, "sendtargets")) {
		if (!strcmp(o->type, "isns") || !strcmp(o->type, "fw") || !strcmp(o->type, "slp"))
			FAIL("discovery type '%s' is not supported by kura", o->type);
		FAIL("Unknown discovery type '%s'", o->type);
	}
	if (!o->portal)
		FAIL("Please specify portal as <ipaddr>[:<ipport>]");
	if (o->tpgt >= 0)
		FAIL("a discovery portal has no tpgt: use IP[:PORT]");
	if ((o->ops & ADM_OP_NONPERSISTENT) && (o->ops & ~ADM_OP_NONPERSISTENT))
		FAIL("-o nonpersistent cannot be combined with other operations");
	return check_nv(o, msg, msglen);
}

static int check_node(const struct adm_opts *o, char *msg, size_t msglen)
{
	unsigned acts = o->seen & (OB_l | OB_u | OB_L | OB_U);
	if (acts & (acts - 1))
		FAIL("only one of --login, --logout, --loginall, --logoutall at a time");
	if (acts && o->nops)
		FAIL("-o cannot be combined with login or logout");
	if ((o->seen & (OB_L | OB_U)) && (o->target || o->portal))
		FAIL("--loginall/--logoutall apply to all records: drop -T/-p");
	if ((o->ops & ADM_OP_NEW) && (!o->target || !o->portal))
		FAIL("node mode: -o new requires -T and -p");
	if (o->print > 1)
		FAIL("node mode: print level %d not supported (0 or 1)", o->print);
	return check_nv(o, msg, msglen);
}

static int check_session(const struct adm_opts *o, char *msg, size_t msglen)
{
	if ((o->seen & OB_R) && (o->seen & OB_u))
		FAIL("--rescan and --logout cannot be combined");
	if ((o->seen & OB_s) && !o->sid)
		FAIL("session stats require -r SID");
	return 0;
}

static int check_iface(const struct adm_opts *o, char *msg, size_t msglen)
{
	if ((o->ops & (ADM_OP_NEW | ADM_OP_DELETE | ADM_OP_UPDATE)) && !o->iface)
		FAIL("iface mode: -o %s requires -I NAME", o->ops & ADM_OP_NEW      ? "new"
							   : o->ops & ADM_OP_DELETE ? "delete"
										    : "update");
	return check_nv(o, msg, msglen);
}

static int check_none(const struct adm_opts *o, char *msg, size_t msglen)
{
	(void)o;
	(void)msg;
	(void)msglen;
	return 0;
}

static int check_combo(const struct adm_opts *o, char *msg, size_t msglen)
{
	static int (*const per_mode[])(const struct adm_opts *, char *, size_t) = {
		[ADM_M_DISCOVERY] = check_discovery, [ADM_M_DISCOVERYDB] = check_discovery,
		[ADM_M_NODE] = check_node,           [ADM_M_SESSION] = check_session,
		[ADM_M_IFACE] = check_iface,         [ADM_M_FW] = check_none,
		[ADM_M_HOST] = check_none,
	};
	const struct mode_rule *r = rule_of(o->mode);
	unsigned bad = o->seen & ~r->opts;
	if (bad)
		FAIL("%s mode: option '-%c' is not allowed/supported", r->name,
		     letter_of(bad & -bad));
	if (o->ops & ~r->ops)
		FAIL("%s mode: operation not allowed/supported", r->name);
	if (o->nops > 1 && !r->multi_op)
		FAIL("%s mode: only one -o operation at a time", r->name);
	return per_mode[o->mode](o, msg, msglen);
}

/* ---- main ----------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("kura-iscsiadm: open-iscsi compatible administration of kura's initiator\n"
	      "  -m discovery [-P 1] | -t st -p IP[:PORT] [-I IFACE] [-o new|delete|update|nonpersistent] [-l]\n"
	      "  -m discoverydb [-t st -p IP[:PORT] -o new|delete|update|show [-n NAME -v VALUE] [-D] [-l]]\n"
	      "  -m node [-P 0|1] [-T IQN] [-p IP[:PORT][,TPGT]] [-I IFACE]\n"
	      "          [-o new|delete|update|show [-n NAME -v VALUE]] [-l|-u] | -L|-U all|manual|automatic\n"
	      "  -m session [-P 0..3] [-r SID] [-R] [-u]\n"
	      "  -m iface [-I NAME [-o new|delete|update|show [-n NAME -v VALUE]]]\n"
	      "  -S|--show show secrets; --root DIR database (env KURA_ISCSI_ROOT, default /etc/iscsi);\n"
	      "  --ctl PATH kura-initiatord socket (env KURA_INITIATORD_SOCK); -V version; -h help\n",
	      f);
}

/* open-iscsi on a machine without boot firmware tables or iSCSI hosts (what
 * kura is: software iSCSI over TCP) says so and exits 21. */
static int cmd_no_hw(struct adm *a)
{
	if (a->o.mode == ADM_M_FW)
		adm_errf(a, "Could not get list of targets from firmware. (err 21)");
	else
		adm_errf(a, "No iSCSI hosts.");
	return ADM_ERR_NO_OBJS;
}

int adm_main(int argc, char **argv, FILE *out, FILE *err)
{
	static int (*const cmd[])(struct adm *) = {
		[ADM_M_DISCOVERY] = adm_cmd_discovery,
		[ADM_M_DISCOVERYDB] = adm_cmd_discovery,
		[ADM_M_NODE] = adm_cmd_node,
		[ADM_M_SESSION] = adm_cmd_session,
		[ADM_M_IFACE] = adm_cmd_iface,
		[ADM_M_FW] = cmd_no_hw,
		[ADM_M_HOST] = cmd_no_hw,
	};
	struct adm a = { .out = out, .err = err };
	char msg[256];
	int rc = adm_parse(argc, argv, &a.o, msg, sizeof(msg));
	if (rc) {
		adm_errf(&a, "%s", msg);
		return rc;
	}
	if (a.o.help || a.o.version) {
		if (a.o.help)
			usage(out);
		else
			fprintf(out, "iscsiadm version 2.1.8 (kura-iscsiadm)\n");
		return 0;
	}
	const char *env = getenv("KURA_ISCSI_ROOT");
	a.root = a.o.root ? a.o.root : env && env[0] ? env : NODEDB_DEFAULT_ROOT;
	a.sock = ctlc_sock_path(a.o.ctl);
	return cmd[a.o.mode](&a);
}
