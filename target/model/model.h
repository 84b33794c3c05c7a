/* SPDX-License-Identifier: Apache-2.0 */
/* The live model of kura-targetd and the operations that change it at run
 * time: the one set the admin socket (target/admin/) calls, on its own
 * thread, after the new configuration text has parsed (admin_live.c).
 * Nothing else changes targets, LUNs, ACLs, CHAP accounts or ALUA states
 * once the server runs.
 *
 * The model is a separate type from the parsed configuration (tgt.h):
 * tgt_model_open builds it from a const struct tgt_config, which it keeps
 * (m->conf, read-only; it must outlive the model) and never writes. What
 * changes at run time is the model's own copy: each target's LUN list (with
 * LUN paths completed against data_dir, and the LUs), ACL, CHAP accounts and
 * LUN map, and the [raid] / [pool] sections the storage control thread
 * (storage.c) runs.
 *
 * What each reader may rely on:
 *   - a target's acl / chap_in arrays are read by the login policy under
 *     m->live_lock; tgt_model_set_access swaps them under it and keeps
 *     the old ones until tgt_model_close (a login may still point at them);
 *   - t->luns is read only by the admin thread; workers read the LUN map,
 *     which tgt_model_add_lun publishes into last and tgt_model_unpublish_lun
 *     removes from first;
 *   - the ALUA table has its own lock (scsi_alua.c).
 *
 * Not for: parsing (config.c) or writing (conf_write.c) the configuration;
 * the grace period after an unpublish (the server's workers: the admin
 * layer waits for it, tgt_server_sync_workers, before tgt_model_destroy_lu).
 */
#ifndef KURA_MODEL_H
#define KURA_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <strings.h>
#include "target/model/tgt.h"

/* A live LUN: its parameters (strings in the model's store, the path made
 * absolute) and its LU. */
struct tgt_lun {
	struct tgt_lun_conf c;
	struct scsi_lu *lu;
};

/* A live target: the parsed one's names, its run-time LUN list, ACL and
 * CHAP accounts (the model's own arrays) and its LUN map. */
struct tgt_target {
	char iqn[224];
	char alias[256];
	struct tgt_lun *luns; /* grows and shrinks at run time (admin thread) */
	int n_luns;
	char (*acl)[224]; /* initiator names allowed; n_acl == 0 => everyone */
	int n_acl;
	struct chap_account *chap_in; /* accounts initiators log in with; 0 => none required */
	int n_chap_in;
	struct chap_account *chap_out; /* mutual CHAP: the target's own account, or NULL */
	struct scsi_lun_map *map;
};

struct tgt_model {
	const struct tgt_config *conf; /* the parsed value it was built from (never written) */
	struct tgt_target *targets;
	int n_targets;
	struct lun_stack_conf
		stack; /* the [raid] / [pool] sections run: grows at run time (storage.c) */
	struct tgt_storage_rt *stor_rt; /* private: control thread (storage.c) */
	/* Run-time ACL / CHAP changes (tgt_model_set_access): live_lock is held
	 * by the login policy while it reads a target's acl / chap_in and by the
	 * admin thread while it swaps them in; never across I/O. Arrays replaced
	 * at run time are kept on `retired` until tgt_model_close(), because a
	 * login in progress may still point at the old CHAP accounts. */
	pthread_mutex_t live_lock;
	struct tgt_retired *retired;
	char *run_text; /* private: without -c FILE, the text as changed */
	void *storage;  /* private: string storage */
};

/* Build the live model from the parsed configuration cfg (kept as
 * (*out)->conf: it must outlive the model): open every LUN's backend (and
 * the [raid] / [pool] stacks), create the LUs and LUN maps. On error *out is
 * a model partly built, for tgt_model_close. -errno + reason. */
int tgt_model_open(const struct tgt_config *cfg, struct tgt_model **out, char *err, size_t errlen);
/* Close every LU, the storage stacks, and free the model (NULL: nothing). */
void tgt_model_close(struct tgt_model *m);

/* A target's ACL and CHAP accounts copied from a parsed target, to be
 * swapped in once the new file is saved: copying is what can fail, so it
 * comes first and the swap cannot fail. */
struct tgt_access {
	char (*acl)[224];
	int n_acl;
	struct chap_account *chap_in;
	int n_chap_in;
};
/* Copy from's acl and chap_in arrays (from is a target of a parsed copy of
 * the configuration). 0, or -ENOMEM with nothing to free. */
int tgt_model_access_copy(const struct tgt_target_conf *from, struct tgt_access *out);
/* A copy that is not swapped in: wiped (CHAP secrets) and freed. */
void tgt_model_access_free(struct tgt_access *a);
/* Swap a's arrays into t (t takes them, a is emptied); t's old arrays are
 * retired until tgt_model_close. */
void tgt_model_set_access(struct tgt_model *m, struct tgt_target *t, struct tgt_access *a);

/* Open src (a LUN of a parsed copy of the configuration; its strings are
 * copied) in target t and publish it in t's LUN map; sessions see 3F/0E.
 * -errno + reason. */
int tgt_model_add_lun(struct tgt_model *m, struct tgt_target *t, const struct tgt_lun_conf *src,
		      char *err, size_t errlen);
/* Remove LUN lun from t's map (new commands: 25/00) and raise 3F/0E on
 * the others; *lu is still open. -ENOENT if it is not published. */
int tgt_model_unpublish_lun(struct tgt_target *t, uint64_t lun, struct scsi_lu **lu);
/* Once no worker can reach lu (grace period, nothing in flight): close it. */
void tgt_model_destroy_lu(struct tgt_model *m, struct tgt_target *t, struct scsi_lu *lu);
/* Drop LUN lun from t->luns (after unpublishing it). */
void tgt_model_forget_lun(struct tgt_target *t, uint64_t lun);

/* Started without -c FILE, the configuration text that run-time changes
 * edit: the embedded default, or the text as last changed (kept with the
 * model until tgt_model_close, which wipes it: it may hold CHAP secrets). */
const char *tgt_model_text(const struct tgt_model *m);
/* Keep a copy of text as that text. 0 or -ENOMEM. */
int tgt_model_set_text(struct tgt_model *m, const char *text);

/* A live target by name, or NULL. iSCSI names compare case-folded (RFC
 * 3722). Inline: the transport's tests build without model.c. */
static inline struct tgt_target *tgt_model_find_target(const struct tgt_model *m, const char *iqn)
{
	for (int i = 0; i < m->n_targets; i++)
		if (strcasecmp(m->targets[i].iqn, iqn) == 0)
			return &m->targets[i];
	return NULL;
}

/* Register the portals' port groups with the ALUA table and the hook that
 * raises 2A/06 on every LU of m. Before the server starts. */
int tgt_model_alua_setup(struct tgt_model *m);
/* Set port group's ALUA state (enum scsi_alua_state); -ENOENT if unknown. */
int tgt_model_set_alua(uint16_t group, int state);

#endif
