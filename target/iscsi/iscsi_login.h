/* SPDX-License-Identifier: Apache-2.0 */
/* iSCSI login and text negotiation (RFC 7143 sections 6, 12, 13) and CHAP
 * (RFC 1994 / RFC 7143 section 12.1.3), as pure logic.
 *
 * The transport feeds each Login Request's stage fields and data segment to
 * iscsi_login_step(); the engine negotiates keys with the RFC's defaults and
 * combination rules, runs CHAP, applies ACLs through the policy callbacks,
 * and fills the Login Response's data segment, stage fields and status.
 * Nothing here touches a socket or a global: all state is in the
 * iscsi_login object, all knowledge of targets comes through the policy.
 *
 * Not for: PDU headers (iscsi_pdu.h), sessions and connections (conn.c).
 */
#ifndef KURA_ISCSI_LOGIN_H
#define KURA_ISCSI_LOGIN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Login stages (CSG / NSG) */
#define ISCSI_STAGE_SECURITY    0
#define ISCSI_STAGE_OPERATIONAL 1
#define ISCSI_STAGE_FULL        3

/* Login status class / detail (RFC 7143 11.13.5) */
#define ISCSI_LS_SUCCESS              0x0000
#define ISCSI_LS_TARGET_MOVED_TEMP    0x0101
#define ISCSI_LS_INIT_ERR             0x0200
#define ISCSI_LS_AUTH_FAILED          0x0201
#define ISCSI_LS_FORBIDDEN            0x0202
#define ISCSI_LS_NOT_FOUND            0x0203
#define ISCSI_LS_TARGET_REMOVED       0x0204
#define ISCSI_LS_UNSUPPORTED_VER      0x0205
#define ISCSI_LS_TOO_MANY_CONNS       0x0206
#define ISCSI_LS_MISSING_PARAM        0x0207
#define ISCSI_LS_CANT_INCLUDE         0x0208
#define ISCSI_LS_SESSION_TYPE_UNSUP   0x0209
#define ISCSI_LS_SESSION_NOT_EXIST    0x020a
#define ISCSI_LS_INVALID_DURING_LOGIN 0x020b
#define ISCSI_LS_TARGET_ERROR         0x0300
#define ISCSI_LS_SERVICE_UNAVAIL      0x0301
#define ISCSI_LS_OUT_OF_RESOURCES     0x0302

enum chap_digest { CHAP_MD5 = 5, CHAP_SHA1 = 6, CHAP_SHA256 = 7, CHAP_SHA3_256 = 8 };

struct chap_account {
	char user[256];
	char secret[256]; /* raw bytes (length below): never logged */
	size_t secret_len;
};

/* What the login engine needs to know of one target, from the policy. */
struct iscsi_target_info {
	const char *iqn;
	const char *alias;                   /* may be NULL */
	uint16_t tpgt;                       /* of the portal the connection came in on */
	const struct chap_account *chap_in;  /* accounts initiators may log in with */
	int n_chap_in;                       /* 0 => no CHAP required (AuthMethod=None allowed) */
	const struct chap_account *chap_out; /* target's account for mutual CHAP, or NULL */
};

/* Target limits / declarations (from configuration; defaults in brackets). */
struct iscsi_target_limits {
	uint32_t max_recv_dsl;        /* our MaxRecvDataSegmentLength [262144] */
	uint32_t max_burst;           /* upper bound we accept [16776192] */
	uint32_t first_burst;         /* upper bound we accept [16776192] */
	uint32_t max_outstanding_r2t; /* upper bound [32] */
	bool allow_initial_r2t_no;    /* [true] */
	bool allow_immediate_data;    /* [true] */
	bool allow_header_digest;     /* offer CRC32C [true] */
	bool allow_data_digest;       /* [true] */
	uint32_t chap_digests_mask;   /* bit (1<<CHAP_x) for each allowed digest [all four] */
};
void iscsi_target_limits_default(struct iscsi_target_limits *l);

/* Policy callbacks (implemented by the transport over the configuration). */
struct iscsi_login_policy {
	void *ctx;
	/* Find target_name for initiator_name on the portal of this connection.
	 * 0 and *out filled; -ENOENT unknown target; -EACCES ACL refuses. */
	int (*lookup_target)(void *ctx, const char *target_name, const char *initiator_name,
			     struct iscsi_target_info *out);
	/* CHAP settings for discovery sessions (same shape; iqn unused). */
	void (*discovery_auth)(void *ctx, struct iscsi_target_info *out);
	/* SendTargets: append "TargetName=..\0TargetAddress=ip:port,tpgt\0..." for
	 * each target initiator_name may see (all, or only `which` if not "All").
	 * Return bytes written to buf (<= len), truncating at a key boundary. */
	size_t (*send_targets)(void *ctx, const char *initiator_name, const char *which, bool all,
			       char *buf, size_t len);
};

/* Negotiated result, valid once the login reaches full feature phase. */
struct iscsi_session_params {
	bool discovery; /* SessionType=Discovery */
	char initiator_name[224];
	char initiator_alias[256];
	char target_name[224];           /* empty for discovery */
	uint32_t max_recv_dsl_initiator; /* cut Data-In / R2T'd data to this [8192] */
	uint32_t max_recv_dsl_target;    /* what we declared */
	uint32_t max_burst;              /* [262144] */
	uint32_t first_burst;            /* [65536] */
	uint32_t max_outstanding_r2t;    /* [1] */
	uint32_t max_connections;        /* [1] */
	uint16_t default_time2wait;      /* [2] */
	uint16_t default_time2retain;    /* [20] */
	uint8_t error_recovery_level;    /* [0] */
	bool initial_r2t;                /* [Yes] */
	bool immediate_data;             /* [Yes] */
	bool data_pdu_in_order;          /* [Yes] */
	bool data_sequence_in_order;     /* [Yes] */
	bool header_digest;              /* CRC32C agreed */
	bool data_digest;
	bool authenticated; /* CHAP was performed and succeeded */
};

struct iscsi_login;

/* One per connection in login phase. Returns NULL on out-of-memory. */
struct iscsi_login *iscsi_login_new(const struct iscsi_login_policy *policy,
				    const struct iscsi_target_limits *limits);
void iscsi_login_free(struct iscsi_login *l);

struct iscsi_login_req {
	uint8_t csg, nsg;
	bool transit, cont;  /* T and C bits */
	const uint8_t *data; /* data segment: key=value\0 ... */
	size_t len;
};

struct iscsi_login_rsp {
	uint8_t csg, nsg;
	bool transit;
	uint16_t status; /* ISCSI_LS_* (class << 8 | detail) */
	size_t len;      /* bytes placed in the caller's buffer */
};

/* Process one Login Request. buf/buflen: space for the response data segment
 * (the transport gives at least 8192 bytes). Returns 0; a non-success
 * rsp->status means the transport sends the response and closes.
 * C-bit continuation of a request is handled by the engine (it accumulates
 * partial keys and answers with an empty response until the last part). */
int iscsi_login_step(struct iscsi_login *l, const struct iscsi_login_req *req,
		     struct iscsi_login_rsp *rsp, uint8_t *buf, size_t buflen);
/* True once the login has transited to full feature phase successfully. */
bool iscsi_login_complete(const struct iscsi_login *l);
const struct iscsi_session_params *iscsi_login_params(const struct iscsi_login *l);

/* Text Request in full feature phase (RFC 7143 11.10): SendTargets on a
 * discovery or normal session; other keys are answered per RFC (NotUnderstood
 * / Irrelevant / Reject). Returns bytes of response data in buf. */
size_t iscsi_text_respond(const struct iscsi_login_policy *policy,
			  const struct iscsi_session_params *sp, const uint8_t *data, size_t len,
			  uint8_t *buf, size_t buflen);

/* ---- key=value lists (exposed for unit tests and the fuzzer) ---- */
struct iscsi_kv {
	const char *key;
	const char *value;
};
/* Split a data segment into at most max pairs (pointers into a private copy
 * made in scratch, which must be len+1 bytes). -EINVAL on a malformed list
 * (missing '=', empty key, key > 63 chars, value > 8192 chars, duplicate key). */
int iscsi_kv_parse(const uint8_t *data, size_t len, char *scratch, struct iscsi_kv *out, int max);

/* ---- CHAP helpers (exposed for unit tests) ---- */
/* Decode a CHAP binary value "0x<hex>" or "0b<base64>"; returns bytes or -EINVAL. */
int chap_decode(const char *value, uint8_t *out, size_t outlen);
/* Encode as "0x<hex>". */
void chap_encode_hex(const uint8_t *in, size_t len, char *out, size_t outlen);
/* response = H(id || secret || challenge) for digest d; returns digest length or -EINVAL. */
int chap_response(enum chap_digest d, uint8_t id, const uint8_t *secret, size_t secret_len,
		  const uint8_t *challenge, size_t chal_len, uint8_t *out, size_t outlen);
/* Constant-time equality of two byte strings of possibly different length. */
bool chap_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
#endif
