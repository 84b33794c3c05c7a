/* SPDX-License-Identifier: Apache-2.0 */
/* kura-iscsiadm internals, shared by initiator/iscsiadm*.c only.
 *
 * adm_parse turns argv into struct adm_opts and checks the mode / option /
 * operation combination against one table (errors: exit 7, message in msg);
 * the adm_cmd_* functions run one mode against the node database (nodedb.h),
 * discovery (discovery.h) and kura-initiatord (ctl_client.h), printing
 * open-iscsi's formats to a->out and "iscsiadm: ..." errors to a->err, and
 * return open-iscsi's exit codes (ADM_ERR_*).
 */
#ifndef KURA_ISCSIADM_H
#define KURA_ISCSIADM_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "initiator/nodedb.h"

/* open-iscsi's ISCSI_ERR_* exit codes (include/iscsi_err.h). */
enum {
	ADM_OK = 0,
	ADM_ERR = 1,
	ADM_ERR_SESS_NOT_FOUND = 2,
	ADM_ERR_NOMEM = 3,
	ADM_ERR_TRANS = 4,
	ADM_ERR_LOGIN = 5,
	ADM_ERR_IDBM = 6,
	ADM_ERR_INVAL = 7,
	ADM_ERR_TRANS_TIMEOUT = 8,
	ADM_ERR_INTERNAL = 9,
	ADM_ERR_LOGOUT = 10,
	ADM_ERR_ACCESS = 13,
	ADM_ERR_SESS_EXISTS = 15,
	ADM_ERR_ISCSID_COMM = 18,
	ADM_ERR_PDU_TIMEOUT = 11,
	ADM_ERR_FATAL_LOGIN = 19,
	ADM_ERR_ISCSID_NOTCONN = 20,
	ADM_ERR_NO_OBJS = 21,
	ADM_ERR_SYSFS_LOOKUP = 22,
	ADM_ERR_LOGIN_AUTH = 24,
	ADM_ERR_OP_NOT_SUPP = 27,
	ADM_ERR_UNKNOWN_DISC_TYPE = 30,
};
/* "initiator reported error (N - text)": the text for N (never NULL). */
const char *adm_err_str(int code);

enum adm_mode {
	ADM_M_NONE,
	ADM_M_DISCOVERY,
	ADM_M_DISCOVERYDB,
	ADM_M_NODE,
	ADM_M_SESSION,
	ADM_M_IFACE,
	ADM_M_FW,   /* boot firmware (iBFT): kura reads none, like a host without it */
	ADM_M_HOST, /* iSCSI HBAs: kura has no host objects (software TCP only) */
};
enum adm_op {
	ADM_OP_NEW = 1,
	ADM_OP_DELETE = 2,
	ADM_OP_UPDATE = 4,
	ADM_OP_SHOW = 8,
	ADM_OP_NONPERSISTENT = 16,
};
/* One bit per option letter, for the mode table. */
enum adm_optbit {
	OB_p = 1u << 0,
	OB_T = 1u << 1,
	OB_I = 1u << 2,
	OB_o = 1u << 3,
	OB_t = 1u << 4,
	OB_n = 1u << 5,
	OB_v = 1u << 6,
	OB_r = 1u << 7,
	OB_R = 1u << 8,
	OB_P = 1u << 9,
	OB_l = 1u << 10,
	OB_u = 1u << 11,
	OB_L = 1u << 12,
	OB_U = 1u << 13,
	OB_S = 1u << 14,
	OB_s = 1u << 15,
	OB_D = 1u << 16,
};
#define ADM_MAX_NV 16

struct adm_opts {
	enum adm_mode mode;
	unsigned seen; /* OB_* bits given */
	unsigned ops;  /* ADM_OP_* bits */
	int nops;
	const char *type, *portal, *target, *iface;
	char address[64]; /* from portal */
	uint16_t port;
	int tpgt; /* -1: not given */
	const char *names[ADM_MAX_NV], *values[ADM_MAX_NV];
	int nnames, nvalues;
	int sid;   /* 0: not given */
	int print; /* -1: not given */
	const char *login_all, *logout_all;
	const char *root, *ctl;
	bool show_secrets, help, version;
};

/* 0, or an exit code (7) with msg set ("iscsiadm: " is added by the caller). */
int adm_parse(int argc, char **argv, struct adm_opts *o, char *msg, size_t msglen);

struct adm {
	struct adm_opts o;
	const char *root; /* database root */
	const char *sock; /* kura-initiatord socket */
	FILE *out, *err;
};

void adm_errf(struct adm *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "[addr]:port" for IPv6, "addr:port" otherwise. */
void adm_fmt_portal(char *buf, size_t len, const char *addr, unsigned port);

/* iscsiadm_node.c */
int adm_cmd_node(struct adm *a);
struct nodedb_rec *adm_node_load_full(const char *root, const struct nodedb_node_id *id, int *err);
void adm_print_rec(struct adm *a, const struct nodedb_rec *r, enum nodedb_kind kind);
int adm_update_rec(struct adm *a, struct nodedb_rec *r, enum nodedb_kind kind);
/* Copy the iface record's settings into a node record bound to it (as
 * open-iscsi does); ADM_OK or ADM_ERR_NO_OBJS when the iface is unknown. */
int adm_iface_into(struct adm *a, struct nodedb_rec *r, const char *iface);
/* iscsiadm_disc.c */
int adm_cmd_discovery(struct adm *a);
/* iscsiadm_session.c */
int adm_cmd_session(struct adm *a);
int adm_login_nodes(struct adm *a, const struct nodedb_node_id *ids, int n);
/* True when kura-initiatord has a session on the record's portal. */
bool adm_node_has_session(struct adm *a, const struct nodedb_node_id *id);
int adm_logout_matching(struct adm *a, const char *target, const char *address, uint16_t port,
			const char *startup_filter);
/* iscsiadm_iface.c */
int adm_cmd_iface(struct adm *a);

/* Entry point of kura-iscsiadm. */
int adm_main(int argc, char **argv, FILE *out, FILE *err);
#endif
