/* SPDX-License-Identifier: Apache-2.0 */
/* iSCSI text keys: the key=value list codec (RFC 7143 6.1), the declarative
 * table of keys (RFC 7143 section 13, RFC 7144 for iSCSIProtocolLevel), the
 * negotiation of operational keys with their combination rules (6.2.2), and
 * the Text Request answer in full feature phase (SendTargets, 11.10 and
 * appendix C).
 *
 * Everything here is pure: bytes and limits in, answers and values out.
 * Not for: the login stage machine (iscsi_login.c) or CHAP (chap.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "target/iscsi/iscsi_login_internal.h"
#include "common/hex.h"

/* ------------------------------------------------------------------ */
/* key=value list codec (RFC 7143 6.1)                                 */

/* key-name characters: a-z A-Z 0-9 . - + @ _ (RFC 7143 6.1) */
static bool key_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '+' || c == '@' || c == '_';
}

static int kv_split_one(char *s, struct iscsi_kv *kv)
{
	char *eq = strchr(s, '=');
	if (!eq || eq == s || eq - s > ISCSI_KEY_NAME_MAX)
		return -EINVAL;
	for (char *p = s; p < eq; p++)
		if (!key_char_ok((unsigned char)*p))
			return -EINVAL;
	*eq = '\0';
	if (strlen(eq + 1) > ISCSI_VALUE_MAX)
		return -EINVAL;
	kv->key = s;
	kv->value = eq + 1;
	return 0;
}

static bool kv_dup(const struct iscsi_kv *out, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(out[i].key, out[n].key) == 0)
			return true;
	return false;
}

/* Empty strings between NULs (padding some initiators leave) are skipped;
 * a missing final NUL is tolerated because scratch gets one. More than max
 * pairs is -E2BIG. */
int iscsi_kv_parse(const uint8_t *data, size_t len, char *scratch, struct iscsi_kv *out, int max)
{
	int n = 0;
	if (len)
		memcpy(scratch, data, len);
	scratch[len] = '\0';
	for (size_t pos = 0; pos < len;) {
		char *s = scratch + pos;
		size_t sl = strlen(s);
		pos += sl + 1;
		if (sl == 0)
			continue;
		if (n >= max)
			return -E2BIG;
		int rc = kv_split_one(s, &out[n]);
		if (rc)
			return rc;
		if (kv_dup(out, n))
			return -EINVAL;
		n++;
	}
	return n;
}

void kv_out_init(struct kv_out *o, uint8_t *buf, size_t cap)
{
	o->buf = (char *)buf;
	o->cap = cap;
	o->len = 0;
	o->overflow = false;
}

void kv_out_add(struct kv_out *o, const char *key, const char *value)
{
	size_t kl = strlen(key), vl = strlen(value);
	if (o->overflow || o->cap - o->len < kl + vl + 2) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, key, kl);
	o->buf[o->len + kl] = '=';
	memcpy(o->buf + o->len + kl + 1, value, vl);
	o->buf[o->len + kl + 1 + vl] = '\0';
	o->len += kl + vl + 2;
}

void kv_out_add_u32(struct kv_out *o, const char *key, uint32_t v)
{
	char num[16];
	snprintf(num, sizeof(num), "%u", v);
	kv_out_add(o, key, num);
}

int iscsi_parse_number(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	unsigned base = hex ? 16 : 10;
	const char *p = hex ? s + 2 : s;
	if (!*p)
		return -EINVAL;
	for (; *p; p++) {
		int d = hex ? khex_val(*p) : (*p >= '0' && *p <= '9' ? *p - '0' : -1);
		if (d < 0 || v > (UINT64_MAX - (uint64_t)d) / base)
			return -EINVAL;
		v = v * base + (uint64_t)d;
	}
	*out = v;
	return 0;
}

bool iscsi_list_has(const char *list, const char *item)
{
	size_t il = strlen(item);
	for (const char *p = list;;) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		if (l == il && memcmp(p, item, il) == 0)
			return true;
		if (!comma)
			return false;
		p = comma + 1;
	}
}

/* ------------------------------------------------------------------ */
/* The key table (RFC 7143 section 13)                                 */

enum key_type {
	KT_BOOL_AND,    /* result Yes only if both say Yes (6.2.2) */
	KT_BOOL_OR,     /* result Yes if either says Yes */
	KT_NUM_MIN,     /* result = min(offered, ours) */
	KT_NUM_MAX,     /* result = max(offered, ours) */
	KT_NUM_DECL,    /* declarative number: recorded, not answered */
	KT_DIGEST,      /* list CRC32C / None: first of the offer we allow */
	KT_TASK_REPORT, /* list: we only do RFC3720 (13.23) */
	KT_MARKER,      /* obsolete OFMarker/IFMarker: answer No (13.25) */
	KT_IRRELEVANT,  /* obsolete OFMarkInt/IFMarkInt: answer Irrelevant */
	KT_TARGET_DECL, /* declared by targets only: answer Irrelevant */
	KT_OTHER,       /* identity, auth, FFP keys: handled elsewhere */
	KT_COUNT_
};

enum key_use { USE_LO, USE_ALL, USE_FFP };

struct key_def {
	const char *name;
	uint8_t type;          /* enum key_type */
	uint8_t use;           /* enum key_use: LO keys are login only */
	uint8_t cls;           /* enum iscsi_key_class */
	bool disc_irrelevant;  /* "Irrelevant when: SessionType=Discovery" */
	uint32_t lo, hi, dflt; /* numeric range and RFC default */
	/* Our own value for the combination rule (bool 0/1 or number). */
	uint32_t (*ours)(const struct iscsi_target_limits *lim);
};

static uint32_t ours_initial_r2t(const struct iscsi_target_limits *l)
{
	return !l->allow_initial_r2t_no;
}
static uint32_t ours_immediate(const struct iscsi_target_limits *l)
{
	return l->allow_immediate_data;
}
static uint32_t ours_max_burst(const struct iscsi_target_limits *l)
{
	return l->max_burst;
}
static uint32_t ours_first_burst(const struct iscsi_target_limits *l)
{
	return l->first_burst;
}
static uint32_t ours_max_r2t(const struct iscsi_target_limits *l)
{
	return l->max_outstanding_r2t;
}
static uint32_t ours_hdigest(const struct iscsi_target_limits *l)
{
	return l->allow_header_digest;
}
static uint32_t ours_ddigest(const struct iscsi_target_limits *l)
{
	return l->allow_data_digest;
}

#define NUM(n, t, use, di, lo_, hi_, df, fn) \
	{ \
		n, t, use, KC_OPERATIONAL, di, lo_, hi_, df, fn \
	}
#define OTHER(n, use, cls) \
	{ \
		n, KT_OTHER, use, cls, false, 0, 0, 0, NULL \
	}

/* Our fixed values: MaxConnections 1 (one connection per session),
 * ErrorRecoveryLevel 0, DefaultTime2Wait 2, DefaultTime2Retain 20, the
 * in-order flags Yes, iSCSIProtocolLevel 1 (RFC 7144 2.1: RFC 7143). */
static uint32_t ours_one(const struct iscsi_target_limits *l)
{
	return 1;
}
static uint32_t ours_zero(const struct iscsi_target_limits *l)
{
	return 0;
}
static uint32_t ours_t2w(const struct iscsi_target_limits *l)
{
	return 2;
}
static uint32_t ours_t2r(const struct iscsi_target_limits *l)
{
	return 20;
}

static const struct key_def key_table[K_COUNT] = {
	[K_HEADER_DIGEST] = NUM("HeaderDigest", KT_DIGEST, USE_LO, false, 0, 1, 0, ours_hdigest),
	[K_DATA_DIGEST] = NUM("DataDigest", KT_DIGEST, USE_LO, false, 0, 1, 0, ours_ddigest),
	[K_MAX_CONNECTIONS] =
		NUM("MaxConnections", KT_NUM_MIN, USE_LO, true, 1, 65535, 1, ours_one),
	[K_SEND_TARGETS] = OTHER("SendTargets", USE_FFP, KC_FFP),
	[K_TARGET_NAME] = OTHER("TargetName", USE_LO, KC_IDENTITY),
	[K_INITIATOR_NAME] = OTHER("InitiatorName", USE_LO, KC_IDENTITY),
	[K_TARGET_ALIAS] = NUM("TargetAlias", KT_TARGET_DECL, USE_ALL, false, 0, 0, 0, NULL),
	[K_INITIATOR_ALIAS] = OTHER("InitiatorAlias", USE_ALL, KC_IDENTITY),
	[K_TARGET_ADDRESS] = NUM("TargetAddress", KT_TARGET_DECL, USE_ALL, false, 0, 0, 0, NULL),
	[K_TPGT] = NUM("TargetPortalGroupTag", KT_TARGET_DECL, USE_LO, false, 0, 0, 0, NULL),
	[K_INITIAL_R2T] = NUM("InitialR2T", KT_BOOL_OR, USE_LO, true, 0, 1, 1, ours_initial_r2t),
	[K_IMMEDIATE_DATA] =
		NUM("ImmediateData", KT_BOOL_AND, USE_LO, true, 0, 1, 1, ours_immediate),
	[K_MRDSL] = NUM("MaxRecvDataSegmentLength", KT_NUM_DECL, USE_ALL, false, 512, 16777215,
			8192, NULL),
	[K_MAX_BURST] = NUM("MaxBurstLength", KT_NUM_MIN, USE_LO, true, 512, 16777215, 262144,
			    ours_max_burst),
	[K_FIRST_BURST] = NUM("FirstBurstLength", KT_NUM_MIN, USE_LO, true, 512, 16777215, 65536,
			      ours_first_burst),
	[K_T2W] = NUM("DefaultTime2Wait", KT_NUM_MAX, USE_LO, false, 0, 3600, 2, ours_t2w),
	[K_T2R] = NUM("DefaultTime2Retain", KT_NUM_MIN, USE_LO, false, 0, 3600, 20, ours_t2r),
	[K_MAX_R2T] = NUM("MaxOutstandingR2T", KT_NUM_MIN, USE_LO, true, 1, 65535, 1, ours_max_r2t),
	[K_PDU_IN_ORDER] = NUM("DataPDUInOrder", KT_BOOL_OR, USE_LO, true, 0, 1, 1, ours_one),
	[K_SEQ_IN_ORDER] = NUM("DataSequenceInOrder", KT_BOOL_OR, USE_LO, true, 0, 1, 1, ours_one),
	[K_ERL] = NUM("ErrorRecoveryLevel", KT_NUM_MIN, USE_LO, false, 0, 2, 0, ours_zero),
	[K_SESSION_TYPE] = OTHER("SessionType", USE_LO, KC_IDENTITY),
	[K_AUTH_METHOD] = OTHER("AuthMethod", USE_LO, KC_AUTH),
	[K_CHAP_A] = OTHER("CHAP_A", USE_LO, KC_AUTH),
	[K_CHAP_I] = OTHER("CHAP_I", USE_LO, KC_AUTH),
	[K_CHAP_C] = OTHER("CHAP_C", USE_LO, KC_AUTH),
	[K_CHAP_N] = OTHER("CHAP_N", USE_LO, KC_AUTH),
	[K_CHAP_R] = OTHER("CHAP_R", USE_LO, KC_AUTH),
	[K_OF_MARKER] = NUM("OFMarker", KT_MARKER, USE_LO, false, 0, 1, 0, ours_zero),
	[K_IF_MARKER] = NUM("IFMarker", KT_MARKER, USE_LO, false, 0, 1, 0, ours_zero),
	[K_OF_MARK_INT] = NUM("OFMarkInt", KT_IRRELEVANT, USE_LO, false, 0, 0, 0, NULL),
	[K_IF_MARK_INT] = NUM("IFMarkInt", KT_IRRELEVANT, USE_LO, false, 0, 0, 0, NULL),
	[K_TASK_REPORTING] = NUM("TaskReporting", KT_TASK_REPORT, USE_LO, true, 0, 0, 0, NULL),
	[K_PROTOCOL_LEVEL] =
		NUM("iSCSIProtocolLevel", KT_NUM_MIN, USE_LO, false, 0, 31, 0, ours_one),
};

enum iscsi_key_id iscsi_key_lookup(const char *name)
{
	for (int i = 0; i < K_COUNT; i++)
		if (strcmp(key_table[i].name, name) == 0)
			return (enum iscsi_key_id)i;
	return K_UNKNOWN;
}

enum iscsi_key_class iscsi_key_class(enum iscsi_key_id id)
{
	return (enum iscsi_key_class)key_table[id].cls;
}

const char *iscsi_key_name(enum iscsi_key_id id)
{
	return key_table[id].name;
}

void iscsi_neg_init(struct iscsi_neg *n)
{
	for (int i = 0; i < K_COUNT; i++) {
		n->seen[i] = false;
		n->val[i] = key_table[i].dflt;
	}
}

/* ------------------------------------------------------------------ */
/* Negotiation per type (RFC 7143 6.2.2); each returns the answer text  */
/* or NULL for "no answer" (declarations), and may store a value.      */

typedef const char *(*neg_fn)(const struct key_def *k, const char *value, uint32_t ours,
			      uint32_t *val, char num[16]);

static int parse_bool(const char *v)
{
	if (strcmp(v, "Yes") == 0)
		return 1;
	if (strcmp(v, "No") == 0)
		return 0;
	return -1;
}

static const char *yes_no(uint32_t b)
{
	return b ? "Yes" : "No";
}

static const char *neg_bool_and(const struct key_def *k, const char *v, uint32_t ours,
				uint32_t *val, char num[16])
{
	int b = parse_bool(v);
	if (b < 0)
		return "Reject";
	*val = (uint32_t)b && ours;
	return yes_no(*val);
}

static const char *neg_bool_or(const struct key_def *k, const char *v, uint32_t ours, uint32_t *val,
			       char num[16])
{
	int b = parse_bool(v);
	if (b < 0)
		return "Reject";
	*val = (uint32_t)b || ours;
	return yes_no(*val);
}

/* Out-of-range or malformed numbers are answered Reject (6.2.1); the key
 * then keeps its default. */
static int parse_ranged(const struct key_def *k, const char *v, uint32_t *out)
{
	uint64_t x;
	if (iscsi_parse_number(v, &x) || x < k->lo || x > k->hi)
		return -EINVAL;
	*out = (uint32_t)x;
	return 0;
}

static const char *neg_num(const struct key_def *k, const char *v, uint32_t ours, uint32_t *val,
			   char num[16], bool want_min)
{
	uint32_t x;
	if (parse_ranged(k, v, &x))
		return "Reject";
	*val = (want_min ? x < ours : x > ours) ? x : ours;
	snprintf(num, 16, "%u", *val);
	return num;
}

static const char *neg_num_min(const struct key_def *k, const char *v, uint32_t ours, uint32_t *val,
			       char num[16])
{
	return neg_num(k, v, ours, val, num, true);
}

static const char *neg_num_max(const struct key_def *k, const char *v, uint32_t ours, uint32_t *val,
			       char num[16])
{
	return neg_num(k, v, ours, val, num, false);
}

/* Returned by a negotiation function when the value must fail the login. */
static const char neg_fail[] = "";

/* MaxRecvDataSegmentLength is declarative (13.12): answering Reject would put
 * the key in our response twice (we declare our own). A value above 2^24-1
 * is clamped (the initiator can receive at least that much); one below 512
 * or malformed fails the login as an initiator error. */
static const char *neg_num_decl(const struct key_def *k, const char *v, uint32_t ours,
				uint32_t *val, char num[16])
{
	uint64_t x;
	if (iscsi_parse_number(v, &x) || x < k->lo)
		return neg_fail;
	*val = x > k->hi ? k->hi : (uint32_t)x;
	return NULL;
}

/* HeaderDigest / DataDigest (13.1): the initiator's order decides. */
static const char *neg_digest(const struct key_def *k, const char *v, uint32_t ours, uint32_t *val,
			      char num[16])
{
	for (const char *p = v;;) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		if (ours && l == 6 && memcmp(p, "CRC32C", 6) == 0) {
			*val = 1;
			return "CRC32C";
		}
		if (l == 4 && memcmp(p, "None", 4) == 0) {
			*val = 0;
			return "None";
		}
		if (!comma)
			return "Reject";
		p = comma + 1;
	}
}

static const char *neg_task_report(const struct key_def *k, const char *v, uint32_t ours,
				   uint32_t *val, char num[16])
{
	return iscsi_list_has(v, "RFC3720") ? "RFC3720" : "Reject";
}

static const char *neg_marker(const struct key_def *k, const char *v, uint32_t ours, uint32_t *val,
			      char num[16])
{
	return parse_bool(v) < 0 ? "Reject" : "No";
}

static const char *neg_irrelevant(const struct key_def *k, const char *v, uint32_t ours,
				  uint32_t *val, char num[16])
{
	return "Irrelevant";
}

static const neg_fn neg_table[KT_COUNT_] = {
	[KT_BOOL_AND] = neg_bool_and,       [KT_BOOL_OR] = neg_bool_or,
	[KT_NUM_MIN] = neg_num_min,         [KT_NUM_MAX] = neg_num_max,
	[KT_NUM_DECL] = neg_num_decl,       [KT_DIGEST] = neg_digest,
	[KT_TASK_REPORT] = neg_task_report, [KT_MARKER] = neg_marker,
	[KT_IRRELEVANT] = neg_irrelevant,   [KT_TARGET_DECL] = neg_irrelevant,
	[KT_OTHER] = neg_irrelevant,
};

int iscsi_neg_key(struct iscsi_neg *n, enum iscsi_key_id id, const char *value, bool discovery,
		  const struct iscsi_target_limits *lim, struct kv_out *o)
{
	const struct key_def *k = &key_table[id];
	char num[16];
	const char *ans;
	if (n->seen[id])
		return -EPROTO; /* 6.2: negotiating a key twice */
	n->seen[id] = true;
	if (discovery && k->disc_irrelevant) {
		ans = "Irrelevant";
	} else {
		uint32_t ours = k->ours ? k->ours(lim) : 0;
		ans = neg_table[k->type](k, value, ours, &n->val[id], num);
	}
	if (ans == neg_fail)
		return -EPROTO;
	if (ans)
		kv_out_add(o, k->name, ans);
	return 0;
}

void iscsi_neg_finish(const struct iscsi_neg *n, const struct iscsi_target_limits *lim,
		      struct iscsi_session_params *sp)
{
	const uint32_t *v = n->val;
	sp->max_recv_dsl_initiator = v[K_MRDSL];
	sp->max_recv_dsl_target = lim->max_recv_dsl;
	sp->max_burst = v[K_MAX_BURST];
	/* 13.14: FirstBurstLength must not exceed MaxBurstLength. */
	sp->first_burst = v[K_FIRST_BURST] > v[K_MAX_BURST] ? v[K_MAX_BURST] : v[K_FIRST_BURST];
	sp->max_outstanding_r2t = v[K_MAX_R2T];
	sp->max_connections = v[K_MAX_CONNECTIONS];
	sp->default_time2wait = (uint16_t)v[K_T2W];
	sp->default_time2retain = (uint16_t)v[K_T2R];
	sp->error_recovery_level = (uint8_t)v[K_ERL];
	sp->initial_r2t = v[K_INITIAL_R2T];
	sp->immediate_data = v[K_IMMEDIATE_DATA];
	sp->data_pdu_in_order = v[K_PDU_IN_ORDER];
	sp->data_sequence_in_order = v[K_SEQ_IN_ORDER];
	sp->header_digest = v[K_HEADER_DIGEST];
	sp->data_digest = v[K_DATA_DIGEST];
}

/* ------------------------------------------------------------------ */
/* Text Request in full feature phase (RFC 7143 11.10, appendix C)     */

/* SendTargets (appendix C): on a discovery session All lists every target
 * the initiator may see; on a normal session All and the empty value both
 * mean the session's own target. A named target is reported if the policy
 * lets this initiator see it. */
static void text_send_targets(const struct iscsi_login_policy *policy,
			      const struct iscsi_session_params *sp, const char *value,
			      struct kv_out *o)
{
	const char *which = value;
	bool all = false;
	if (strcmp(value, "All") == 0) {
		all = sp->discovery;
		if (!sp->discovery)
			which = sp->target_name;
	} else if (!*value) {
		if (sp->discovery) {
			kv_out_add(o, "SendTargets", "Reject");
			return;
		}
		which = sp->target_name;
	}
	if (o->overflow || !policy->send_targets)
		return;
	o->len += policy->send_targets(policy->ctx, sp->initiator_name, which, all, o->buf + o->len,
				       o->cap - o->len);
}

/* Keys other than SendTargets in FFP: login-only keys and negotiable keys
 * are answered Reject (we do not renegotiate an established session, so a
 * new MaxRecvDataSegmentLength is refused and the old one stays); aliases are
 * declarations and get no answer; unknown and X- keys NotUnderstood. */
static void text_other(const struct iscsi_kv *kv, struct kv_out *o)
{
	enum iscsi_key_id id = iscsi_key_lookup(kv->key);
	if (id == K_UNKNOWN)
		kv_out_add(o, kv->key, "NotUnderstood");
	else if (id == K_INITIATOR_ALIAS)
		return;
	else
		kv_out_add(o, kv->key, "Reject");
}

size_t iscsi_text_respond(const struct iscsi_login_policy *policy,
			  const struct iscsi_session_params *sp, const uint8_t *data, size_t len,
			  uint8_t *buf, size_t buflen)
{
	struct iscsi_kv kv[ISCSI_LOGIN_MAX_KEYS];
	struct kv_out o;
	if (len > ISCSI_LOGIN_MAX_DATA)
		return 0;
	char *scratch = malloc(len + 1);
	if (!scratch)
		return 0;
	kv_out_init(&o, buf, buflen);
	int n = iscsi_kv_parse(data, len, scratch, kv, ISCSI_LOGIN_MAX_KEYS);
	for (int i = 0; i < n; i++) {
		if (strcmp(kv[i].key, "SendTargets") == 0)
			text_send_targets(policy, sp, kv[i].value, &o);
		else
			text_other(&kv[i], &o);
	}
	free(scratch);
	return o.len; /* whole pairs only: kv_out_add is atomic */
}
