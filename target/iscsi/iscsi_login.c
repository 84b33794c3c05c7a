/* SPDX-License-Identifier: Apache-2.0 */
/* The iSCSI login engine: one object per connection in login phase, fed one
 * Login Request at a time. It owns the stage machine of RFC 7143 6.3
 * (security -> operational -> full feature, never backwards), the C-bit
 * continuation of requests (11.12.2), the leading-request checks
 * (InitiatorName, TargetName, SessionType; 13.4-13.6, 13.21), the ACL and
 * target lookup through the policy, and when CHAP must run (12.1).
 *
 * Pure logic: no sockets, no globals. Key semantics live in iscsi_keys.c and
 * CHAP in chap.c. Not for: PDU headers, sessions, connection reinstatement.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include "common/log.h"
#include "target/iscsi/iscsi_login_internal.h"
#include "target/iscsi/iscsi_name.h"

/* An ACL refusal is answered like an unknown target so that an initiator
 * that may not see a target cannot learn that it exists (LIO does the same);
 * the log keeps the real reason. Change here to report 0x0202 instead. */
#define ISCSI_LS_ACL_REFUSED ISCSI_LS_NOT_FOUND

enum auth_state {
	AUTH_START,       /* AuthMethod not negotiated yet */
	AUTH_NONE,        /* no authentication (none required) */
	AUTH_WAIT_CHAP_A, /* we answered AuthMethod=CHAP */
	AUTH_WAIT_CHAP_R, /* we sent CHAP_A/I/C */
	AUTH_DONE,        /* CHAP succeeded */
};

struct iscsi_login {
	const struct iscsi_login_policy *policy;
	struct iscsi_target_limits lim;
	uint8_t stage; /* current stage (CSG expected) */
	bool started;  /* leading request processed */
	bool complete;
	bool mrdsl_declared;
	uint16_t failed; /* non-zero: the status we failed with */
	enum auth_state auth;
	bool auth_required;
	struct iscsi_target_info ti;
	struct chap_exchange cx;
	struct iscsi_neg neg;
	uint8_t *acc; /* continued request being assembled */
	size_t acc_len;
	bool in_cont;
	uint8_t cont_csg;
	struct iscsi_session_params sp;
};

/* Security keys of one request, gathered before the CHAP step runs. */
struct auth_keys {
	const char *method, *a, *i, *c, *n, *r;
};

void iscsi_target_limits_default(struct iscsi_target_limits *l)
{
	l->max_recv_dsl = 262144;
	l->max_burst = 16776192;
	l->first_burst = 16776192;
	l->max_outstanding_r2t = 32;
	l->allow_initial_r2t_no = true;
	l->allow_immediate_data = true;
	l->allow_header_digest = true;
	l->allow_data_digest = true;
	l->chap_digests_mask = 1u << CHAP_MD5 | 1u << CHAP_SHA1 | 1u << CHAP_SHA256 |
			       1u << CHAP_SHA3_256;
}

struct iscsi_login *iscsi_login_new(const struct iscsi_login_policy *policy,
				    const struct iscsi_target_limits *limits)
{
	struct iscsi_login *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->policy = policy;
	if (limits)
		l->lim = *limits;
	else
		iscsi_target_limits_default(&l->lim);
	iscsi_neg_init(&l->neg);
	iscsi_neg_finish(&l->neg, &l->lim, &l->sp);
	return l;
}

void iscsi_login_free(struct iscsi_login *l)
{
	if (!l)
		return;
	free(l->acc);
	OPENSSL_cleanse(l, sizeof(*l));
	free(l);
}

bool iscsi_login_complete(const struct iscsi_login *l)
{
	return l->complete;
}

const struct iscsi_session_params *iscsi_login_params(const struct iscsi_login *l)
{
	return &l->sp;
}

/* ------------------------------------------------------------------ */
/* Stage fields (RFC 7143 6.3, 11.12.2)                                 */

static bool stage_fields_ok(const struct iscsi_login *l, const struct iscsi_login_req *req)
{
	if (req->csg != ISCSI_STAGE_SECURITY && req->csg != ISCSI_STAGE_OPERATIONAL)
		return false;
	if (l->started ? req->csg != l->stage : (l->in_cont && req->csg != l->cont_csg))
		return false;
	if (req->cont && req->transit)
		return false; /* 11.12.2: C and T never both set */
	if (req->transit && (req->nsg <= req->csg || req->nsg == 2 || req->nsg > ISCSI_STAGE_FULL))
		return false;
	return true;
}

/* Append a part of a continued request; -E2BIG past 64 KiB. */
static int cont_append(struct iscsi_login *l, const uint8_t *data, size_t len)
{
	if (len > ISCSI_LOGIN_MAX_DATA - l->acc_len)
		return -E2BIG;
	if (!l->acc && !(l->acc = malloc(ISCSI_LOGIN_MAX_DATA)))
		return -ENOMEM;
	if (len)
		memcpy(l->acc + l->acc_len, data, len);
	l->acc_len += len;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Leading request: who is logging in to what (RFC 7143 13.4-13.6, 13.21) */

static const char *kv_find(const struct iscsi_kv *kv, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

/* Names come from the wire: log them bounded and escaped. */
static const char *log_safe(const char *s, char out[80])
{
	return klog_escape(s, out, 80);
}

static uint16_t lookup_status(int rc)
{
	if (rc == -ENOENT)
		return ISCSI_LS_NOT_FOUND;
	if (rc == -EACCES)
		return ISCSI_LS_ACL_REFUSED;
	return ISCSI_LS_TARGET_ERROR;
}

static uint16_t find_target(struct iscsi_login *l, const char *tname)
{
	const struct iscsi_login_policy *p = l->policy;
	if (l->sp.discovery) {
		if (p->discovery_auth)
			p->discovery_auth(p->ctx, &l->ti);
		return ISCSI_LS_SUCCESS;
	}
	if (!tname || !*tname)
		return ISCSI_LS_MISSING_PARAM;
	char a[80], b[80], folded[ISCSI_NAME_MAX + 1];
	const char *why = iscsi_name_fold(tname, folded);
	if (why) {
		kinfo("login: %s -> TargetName \"%s\" refused: %s",
		      log_safe(l->sp.initiator_name, a), log_safe(tname, b), why);
		return ISCSI_LS_MISSING_PARAM;
	}
	tname = folded;
	int rc = p->lookup_target(p->ctx, tname, l->sp.initiator_name, &l->ti);
	if (rc) {
		kinfo("login: %s -> %s refused (%s)", log_safe(l->sp.initiator_name, a),
		      log_safe(tname, b),
		      rc == -EACCES   ? "ACL"
		      : rc == -ENOENT ? "no such target"
				      : "lookup error");
		return lookup_status(rc);
	}
	strcpy(l->sp.target_name, tname);
	return ISCSI_LS_SUCCESS;
}

static uint16_t leading_request(struct iscsi_login *l, const struct iscsi_kv *kv, int n,
				uint8_t csg)
{
	const char *iname = kv_find(kv, n, "InitiatorName");
	const char *stype = kv_find(kv, n, "SessionType");
	const char *alias = kv_find(kv, n, "InitiatorAlias");
	if (!iname || !*iname)
		return ISCSI_LS_MISSING_PARAM;
	const char *why = iscsi_name_fold(iname, l->sp.initiator_name);
	if (why) {
		char a[80];
		kinfo("login: InitiatorName \"%s\" refused: %s", log_safe(iname, a), why);
		return ISCSI_LS_MISSING_PARAM;
	}
	if (stype && strcmp(stype, "Normal") != 0 && strcmp(stype, "Discovery") != 0)
		return ISCSI_LS_SESSION_TYPE_UNSUP;
	if (alias && strlen(alias) < sizeof(l->sp.initiator_alias))
		strcpy(l->sp.initiator_alias, alias);
	l->sp.discovery = stype && strcmp(stype, "Discovery") == 0;
	uint16_t st = find_target(l, kv_find(kv, n, "TargetName"));
	if (st)
		return st;
	l->auth_required = l->ti.n_chap_in > 0;
	/* Starting in the operational stage skips security (6.3). */
	if (csg == ISCSI_STAGE_OPERATIONAL)
		l->auth = l->auth_required ? AUTH_START : AUTH_NONE;
	return csg == ISCSI_STAGE_OPERATIONAL && l->auth_required ? ISCSI_LS_AUTH_FAILED
								  : ISCSI_LS_SUCCESS;
}

/* Identity keys in later requests may only repeat what was said. */
static uint16_t identity_again(const struct iscsi_login *l, enum iscsi_key_id id, const char *v)
{
	bool same = true;
	if (id == K_INITIATOR_NAME)
		same = strcasecmp(v, l->sp.initiator_name) == 0; /* stored normalized */
	else if (id == K_TARGET_NAME && !l->sp.discovery)
		same = strcasecmp(v, l->sp.target_name) == 0;
	else if (id == K_SESSION_TYPE)
		same = strcmp(v, l->sp.discovery ? "Discovery" : "Normal") == 0;
	return same ? ISCSI_LS_SUCCESS : ISCSI_LS_INIT_ERR;
}

/* ------------------------------------------------------------------ */
/* Authentication (RFC 7143 12.1, 12.1.3)                               */

static void auth_keys_add(struct auth_keys *ak, enum iscsi_key_id id, const char *v)
{
	const char **slot[] = {
		[K_AUTH_METHOD] = &ak->method, [K_CHAP_A] = &ak->a, [K_CHAP_I] = &ak->i,
		[K_CHAP_C] = &ak->c,           [K_CHAP_N] = &ak->n, [K_CHAP_R] = &ak->r,
	};
	*slot[id] = v;
}

/* AuthMethod (12.1): CHAP if we have accounts, else None if offered. */
static uint16_t auth_method(struct iscsi_login *l, const char *v, struct kv_out *o)
{
	if (l->auth_required) {
		if (!iscsi_list_has(v, "CHAP"))
			return ISCSI_LS_AUTH_FAILED;
		kv_out_add(o, "AuthMethod", "CHAP");
		l->auth = AUTH_WAIT_CHAP_A;
		return ISCSI_LS_SUCCESS;
	}
	kv_out_add(o, "AuthMethod", iscsi_list_has(v, "None") ? "None" : "Reject");
	l->auth = AUTH_NONE;
	return ISCSI_LS_SUCCESS;
}

static uint16_t chap_a_step(struct iscsi_login *l, const struct auth_keys *ak, struct kv_out *o)
{
	if (ak->i || ak->c || ak->n || ak->r)
		return ISCSI_LS_AUTH_FAILED;
	int rc = chap_begin(&l->cx, ak->a, l->lim.chap_digests_mask, o);
	if (rc)
		return rc == -ENOTSUP ? ISCSI_LS_AUTH_FAILED : ISCSI_LS_TARGET_ERROR;
	l->auth = AUTH_WAIT_CHAP_R;
	return ISCSI_LS_SUCCESS;
}

static uint16_t chap_r_step(struct iscsi_login *l, const struct auth_keys *ak, struct kv_out *o)
{
	if (ak->a || chap_verify(&l->cx, &l->ti, ak->n, ak->r, ak->i, ak->c, o)) {
		char a[80];
		kinfo("login: CHAP authentication of %s failed", log_safe(l->sp.initiator_name, a));
		return ISCSI_LS_AUTH_FAILED;
	}
	l->auth = AUTH_DONE;
	l->sp.authenticated = true;
	return ISCSI_LS_SUCCESS;
}

/* One request's worth of security keys. The CHAP exchange is strictly
 * AuthMethod -> CHAP_A -> CHAP_N/CHAP_R (+CHAP_I/CHAP_C); a request that
 * does not carry the key the exchange waits for fails authentication. */
static uint16_t auth_step(struct iscsi_login *l, const struct auth_keys *ak, struct kv_out *o)
{
	enum auth_state entry = l->auth;
	bool any_chap = ak->a || ak->i || ak->c || ak->n || ak->r;
	if (ak->method) {
		uint16_t st = auth_method(l, ak->method, o);
		if (st)
			return st;
	}
	if (l->auth == AUTH_WAIT_CHAP_A && ak->a)
		return chap_a_step(l, ak, o);
	if (l->auth == AUTH_WAIT_CHAP_A && entry == AUTH_WAIT_CHAP_A)
		return ISCSI_LS_AUTH_FAILED; /* CHAP_A was due */
	if (l->auth == AUTH_WAIT_CHAP_R)
		return chap_r_step(l, ak, o);
	return any_chap ? ISCSI_LS_AUTH_FAILED : ISCSI_LS_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* One assembled request                                                */

static uint16_t one_key(struct iscsi_login *l, const struct iscsi_kv *kv, struct auth_keys *ak,
			struct kv_out *o)
{
	enum iscsi_key_id id = iscsi_key_lookup(kv->key);
	if (id == K_UNKNOWN) { /* includes X- keys (6.2, 13) */
		kv_out_add(o, kv->key, "NotUnderstood");
		return ISCSI_LS_SUCCESS;
	}
	switch (iscsi_key_class(id)) {
	case KC_IDENTITY: return identity_again(l, id, kv->value);
	case KC_FFP: kv_out_add(o, kv->key, "Irrelevant"); return ISCSI_LS_SUCCESS;
	case KC_AUTH:
		if (l->stage != ISCSI_STAGE_SECURITY || l->neg.seen[id])
			return ISCSI_LS_INIT_ERR; /* security keys: security stage, once */
		l->neg.seen[id] = true;
		auth_keys_add(ak, id, kv->value);
		return ISCSI_LS_SUCCESS;
	case KC_OPERATIONAL: break;
	}
	return iscsi_neg_key(&l->neg, id, kv->value, l->sp.discovery, &l->lim, o)
		       ? ISCSI_LS_INIT_ERR
		       : ISCSI_LS_SUCCESS;
}

/* RFC 7143 13.9: TargetPortalGroupTag in the first response of a normal
 * session; TargetAlias there too when configured. */
static void first_declarations(const struct iscsi_login *l, struct kv_out *o)
{
	if (l->sp.discovery)
		return;
	kv_out_add_u32(o, "TargetPortalGroupTag", l->ti.tpgt);
	if (l->ti.alias && *l->ti.alias)
		kv_out_add(o, "TargetAlias", l->ti.alias);
}

static bool may_transit(const struct iscsi_login *l, uint16_t *status)
{
	if (l->stage != ISCSI_STAGE_SECURITY || !l->auth_required)
		return true;
	if (l->auth == AUTH_START)
		*status = ISCSI_LS_AUTH_FAILED; /* tried to skip authentication */
	return l->auth == AUTH_DONE;
}

static uint16_t transit(struct iscsi_login *l, const struct iscsi_login_req *req,
			struct iscsi_login_rsp *rsp, struct kv_out *o)
{
	uint16_t st = ISCSI_LS_SUCCESS;
	if (!req->transit || !may_transit(l, &st))
		return st;
	if (req->nsg == ISCSI_STAGE_FULL && !l->mrdsl_declared) {
		kv_out_add_u32(o, "MaxRecvDataSegmentLength", l->lim.max_recv_dsl);
		l->mrdsl_declared = true;
	}
	rsp->transit = true;
	rsp->nsg = req->nsg;
	l->stage = req->nsg;
	if (l->stage == ISCSI_STAGE_FULL) {
		iscsi_neg_finish(&l->neg, &l->lim, &l->sp);
		l->complete = true;
	}
	return ISCSI_LS_SUCCESS;
}

static uint16_t process(struct iscsi_login *l, const struct iscsi_login_req *req,
			const uint8_t *data, size_t len, struct iscsi_login_rsp *rsp,
			struct kv_out *o)
{
	struct iscsi_kv kv[ISCSI_LOGIN_MAX_KEYS];
	struct auth_keys ak = { 0 };
	char *scratch = malloc(len + 1);
	uint16_t st = ISCSI_LS_OUT_OF_RESOURCES;
	if (!scratch)
		return st;
	int n = iscsi_kv_parse(data, len, scratch, kv, ISCSI_LOGIN_MAX_KEYS);
	st = n < 0 ? ISCSI_LS_INIT_ERR : ISCSI_LS_SUCCESS;
	if (!st && !l->started) {
		st = leading_request(l, kv, n, req->csg);
		l->started = true;
		l->stage = req->csg;
		if (!st)
			first_declarations(l, o);
	}
	for (int i = 0; i < n && !st; i++)
		st = one_key(l, &kv[i], &ak, o);
	if (!st && l->stage == ISCSI_STAGE_SECURITY)
		st = auth_step(l, &ak, o);
	if (!st && l->stage == ISCSI_STAGE_OPERATIONAL && !l->mrdsl_declared) {
		kv_out_add_u32(o, "MaxRecvDataSegmentLength", l->lim.max_recv_dsl);
		l->mrdsl_declared = true;
	}
	if (!st)
		st = transit(l, req, rsp, o);
	free(scratch);
	return st;
}

static void rsp_init(struct iscsi_login_rsp *rsp, const struct iscsi_login_req *req)
{
	rsp->csg = req->csg;
	rsp->nsg = req->csg; /* NSG is reserved while T = 0 */
	rsp->transit = false;
	rsp->status = ISCSI_LS_SUCCESS;
	rsp->len = 0;
}

static void login_fail(struct iscsi_login *l, struct iscsi_login_rsp *rsp, uint16_t status)
{
	l->failed = status;
	rsp->status = status;
	rsp->transit = false;
	rsp->nsg = rsp->csg;
	rsp->len = 0;
	l->acc_len = 0;
	l->in_cont = false;
}

int iscsi_login_step(struct iscsi_login *l, const struct iscsi_login_req *req,
		     struct iscsi_login_rsp *rsp, uint8_t *buf, size_t buflen)
{
	struct kv_out o;
	rsp_init(rsp, req);
	if (l->failed || l->complete || !stage_fields_ok(l, req)) {
		login_fail(l, rsp, l->failed ? l->failed : ISCSI_LS_INIT_ERR);
		return 0;
	}
	if (req->cont || l->in_cont) {
		int rc = cont_append(l, req->data, req->len);
		if (rc) {
			login_fail(l, rsp,
				   rc == -ENOMEM ? ISCSI_LS_OUT_OF_RESOURCES : ISCSI_LS_INIT_ERR);
			return 0;
		}
		l->in_cont = req->cont;
		l->cont_csg = req->csg;
		if (req->cont)
			return 0; /* empty response: send the next part */
	} else if (req->len > ISCSI_LOGIN_MAX_DATA) {
		login_fail(l, rsp, ISCSI_LS_INIT_ERR);
		return 0;
	}
	kv_out_init(&o, buf, buflen);
	const uint8_t *data = l->acc_len ? l->acc : req->data;
	size_t len = l->acc_len ? l->acc_len : req->len;
	uint16_t st = process(l, req, data, len, rsp, &o);
	l->acc_len = 0;
	if (!st && o.overflow)
		st = ISCSI_LS_OUT_OF_RESOURCES;
	if (st)
		login_fail(l, rsp, st);
	else
		rsp->len = o.len;
	return 0;
}
