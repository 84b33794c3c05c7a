/* SPDX-License-Identifier: Apache-2.0 */
/* The operations that change the live model at run time: the one set the
 * admin socket (target/admin/) calls, on its own thread, after the new
 * configuration text has parsed (admin_live.c). Nothing else changes
 * targets, LUNs, ACLs, CHAP accounts or ALUA states once the server runs.
 *
 * What each reader may rely on:
 *   - a target's acl / chap_in arrays are read by the login policy under
 *     cfg->live_lock; tgt_model_set_access swaps them under it and keeps
 *     the old ones until tgt_config_free (a login may still point at them);
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
#include "target/model/tgt.h"

/* Build the live model from the parsed configuration: open every LUN's
 * backend (and the [raid] / [pool] stacks), create the LUs and LUN maps.
 * -errno + reason. */
int tgt_model_open(struct tgt_config *cfg, char *err, size_t errlen);

/* Take from's acl and chap_in arrays into t (from loses them). */
void tgt_model_set_access(struct tgt_config *cfg, struct tgt_target *t, struct tgt_target *from);

/* Open src (a LUN of a parsed copy of the configuration; its strings are
 * copied) in target t and publish it in t's LUN map; sessions see 3F/0E.
 * -errno + reason. */
int tgt_model_add_lun(struct tgt_config *cfg, struct tgt_target *t, const struct tgt_lun_conf *src,
		      char *err, size_t errlen);
/* Remove LUN lun from t's map (new commands: 25/00) and raise 3F/0E on
 * the others; *lu is still open. -ENOENT if it is not published. */
int tgt_model_unpublish_lun(struct tgt_target *t, uint64_t lun, struct scsi_lu **lu);
/* Once no worker can reach lu (grace period, nothing in flight): close it. */
void tgt_model_destroy_lu(struct tgt_config *cfg, struct tgt_target *t, struct scsi_lu *lu);
/* Drop LUN lun from t->luns (after unpublishing it). */
void tgt_model_forget_lun(struct tgt_target *t, uint64_t lun);

/* Started without -c FILE, the configuration text that run-time changes
 * edit: the embedded default, or the text as last changed (kept with the
 * model until tgt_config_free, which wipes it: it may hold CHAP secrets). */
const char *tgt_model_text(const struct tgt_config *cfg);
/* Keep a copy of text as that text. 0 or -ENOMEM. */
int tgt_model_set_text(struct tgt_config *cfg, const char *text);

/* Register the portals' port groups with the ALUA table and the hook that
 * raises 2A/06 on every LU of cfg. Before the server starts. */
int tgt_model_alua_setup(struct tgt_config *cfg);
/* Set port group's ALUA state (enum scsi_alua_state); -ENOENT if unknown. */
int tgt_model_set_alua(uint16_t group, int state);

#endif
