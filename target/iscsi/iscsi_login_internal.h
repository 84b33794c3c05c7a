/* SPDX-License-Identifier: Apache-2.0 */
/* Internal interfaces shared by the login engine's three files:
 * iscsi_keys.c (key lists, the RFC 7143 section 13 key table, operational
 * negotiation, Text in full feature phase), chap.c (CHAP codec, digests and
 * the CHAP exchange of RFC 7143 section 12.1.3) and iscsi_login.c (the
 * stage machine of section 6.3).
 *
 * Not for use outside target/iscsi_login*.c, chap.c and their tests; the
 * public contract is target/iscsi/iscsi_login.h.
 */
#ifndef KURA_ISCSI_LOGIN_INTERNAL_H
#define KURA_ISCSI_LOGIN_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "target/iscsi/iscsi_login.h"
#include "target/iscsi/iscsi_name.h"

#define ISCSI_KEY_NAME_MAX   63    /* RFC 7143 6.1 */
#define ISCSI_VALUE_MAX      8192  /* longest value we parse (binary values) */
#define ISCSI_TEXT_VALUE_MAX 255   /* RFC 7143 6.1: ordinary text values */
#define ISCSI_LOGIN_MAX_DATA 65536 /* cap on a (continued) login request */
#define ISCSI_LOGIN_MAX_KEYS 256   /* pairs in one request */

/* ---- response builder (iscsi_keys.c) ---- */
struct kv_out {
	char *buf;
	size_t cap, len;
	bool overflow; /* something did not fit: response invalid */
};
void kv_out_init(struct kv_out *o, uint8_t *buf, size_t cap);
void kv_out_add(struct kv_out *o, const char *key, const char *value);
void kv_out_add_u32(struct kv_out *o, const char *key, uint32_t v);

/* RFC 7143 6.1 numerical-value: decimal or 0x hex, < 2^64. 0 or -EINVAL. */
int iscsi_parse_number(const char *s, uint64_t *out);
/* Is item (exact) one of the comma-separated entries of list? */
bool iscsi_list_has(const char *list, const char *item);

/* ---- operational key negotiation (iscsi_keys.c) ---- */
enum iscsi_key_id {
	K_HEADER_DIGEST,
	K_DATA_DIGEST,
	K_MAX_CONNECTIONS,
	K_SEND_TARGETS,
	K_TARGET_NAME,
	K_INITIATOR_NAME,
	K_TARGET_ALIAS,
	K_INITIATOR_ALIAS,
	K_TARGET_ADDRESS,
	K_TPGT,
	K_INITIAL_R2T,
	K_IMMEDIATE_DATA,
	K_MRDSL,
	K_MAX_BURST,
	K_FIRST_BURST,
	K_T2W,
	K_T2R,
	K_MAX_R2T,
	K_PDU_IN_ORDER,
	K_SEQ_IN_ORDER,
	K_ERL,
	K_SESSION_TYPE,
	K_AUTH_METHOD,
	K_CHAP_A,
	K_CHAP_I,
	K_CHAP_C,
	K_CHAP_N,
	K_CHAP_R,
	K_OF_MARKER,
	K_IF_MARKER,
	K_OF_MARK_INT,
	K_IF_MARK_INT,
	K_TASK_REPORTING,
	K_PROTOCOL_LEVEL,
	K_COUNT,
	K_UNKNOWN = -1,
};

/* Key classes: who handles the key (iscsi_login.c dispatches on this). */
enum iscsi_key_class { KC_OPERATIONAL, KC_IDENTITY, KC_AUTH, KC_FFP };

enum iscsi_key_id iscsi_key_lookup(const char *name);
enum iscsi_key_class iscsi_key_class(enum iscsi_key_id id);
const char *iscsi_key_name(enum iscsi_key_id id);

/* Values agreed so far for each operational key (RFC 7143 13). */
struct iscsi_neg {
	bool seen[K_COUNT];
	uint32_t val[K_COUNT]; /* booleans as 0/1; digests 1 = CRC32C */
};
void iscsi_neg_init(struct iscsi_neg *n);
/* Negotiate one operational key offered by the initiator and append our
 * answer (if any) to o. 0, or -EPROTO for a repeated key (login fails with
 * an initiator error, RFC 7143 6.2) or an unusable MaxRecvDataSegmentLength. */
int iscsi_neg_key(struct iscsi_neg *n, enum iscsi_key_id id, const char *value, bool discovery,
		  const struct iscsi_target_limits *lim, struct kv_out *o);
/* Fill the negotiated part of sp from n with defaults and clamps. */
void iscsi_neg_finish(const struct iscsi_neg *n, const struct iscsi_target_limits *lim,
		      struct iscsi_session_params *sp);

/* ---- CHAP exchange (chap.c), RFC 7143 12.1.3 ---- */
#define CHAP_CHALLENGE_MAX   64   /* our challenge: digest length */
#define CHAP_MUTUAL_CHAL_MAX 1024 /* initiator's challenge length bound */

struct chap_exchange {
	enum chap_digest digest;
	uint8_t id;
	uint8_t challenge[CHAP_CHALLENGE_MAX];
	size_t chal_len;
};
/* Pick an algorithm from the initiator's CHAP_A list (its order) that mask
 * allows, and fill id and challenge. Appends CHAP_A, CHAP_I, CHAP_C to o.
 * 0, -ENOTSUP (nothing acceptable: CHAP_A=Reject appended), -EIO (RNG). */
int chap_begin(struct chap_exchange *cx, const char *chap_a, uint32_t mask, struct kv_out *o);
/* The initiator's answer. chap_i / chap_c are NULL unless it asks for mutual
 * authentication. Appends CHAP_N / CHAP_R for mutual CHAP. 0 or -EACCES. */
int chap_verify(const struct chap_exchange *cx, const struct iscsi_target_info *ti,
		const char *chap_n, const char *chap_r, const char *chap_i, const char *chap_c,
		struct kv_out *o);
int chap_digest_len(enum chap_digest d);
#endif
