/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside target/admin/ only: the handlers of admin_live.c (ACL /
 * CHAP / LUN changes and the [raid] / [pool] edits, made through the one
 * configuration writer and the model operations) and of admin_storage.c
 * (raid / pool / volume requests), which admin.c runs from its table.
 *
 * Not for: anything outside the folder (admin.h is the public header; the
 * request parser is admin_parse.h).
 */
#ifndef KURA_ADMIN_INTERNAL_H
#define KURA_ADMIN_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "common/json.h"
#include "target/admin/admin.h"
#include "target/admin/admin_parse.h"

/* Bytes of the reason buffer of a request (admin_cmd.msg). */
#define ADMIN_MSG_MAX 4400

/* At most n bytes of c's reason buffer: the length each reason has always
 * been cut to. */
static inline size_t admin_msg_len(const struct admin_cmd *c, size_t n)
{
	return c->msglen < n ? c->msglen : n;
}

/* acl / chap requests (admin_live.c): edit the configuration text
 * (conf_write.c), validate it with tgt_config_load, save it atomically, then
 * swap the target's new ACL / CHAP arrays in (tgt_model_set_access).
 * 0 or -errno with *why. */
int admin_live_acl(struct tgt_model *m, struct tgt_server *srv, const struct admin_cmd *c, FILE *f,
		   const char **why);
int admin_live_chap(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why);
/* lun add IQN LUN backend=file|memory [path=P] size=S [block_size=B]
 * [thin=yes|no] | lun remove IQN LUN [--force] (admin_live.c): the [lun]
 * section is added to / removed from the text as above; an add opens and
 * publishes the LU before the file is renamed, a remove unpublishes it,
 * waits for a grace period of every worker of srv and for its tasks in
 * flight, then destroys it. Both raise 3F/0E on the target's other LUs. */
int admin_live_lun(struct tgt_model *m, struct tgt_server *srv, const struct admin_cmd *c, FILE *f,
		   const char **why);

/* Set KEY (or with append add ", VALUE" to its list) in the [KIND NAME]
 * section of the configuration text; once the new text parses, apply() makes
 * the run-time change (0, or -errno with a reason in err), then the file is
 * renamed into place. Prints "saved to FILE". (admin_live.c) */
typedef int (*admin_apply_fn)(void *arg, const struct tgt_config *parsed, char *err, size_t errlen);
int admin_live_section_key(struct tgt_model *m, const char *kind, const char *name, const char *key,
			   const char *value, bool append, admin_apply_fn apply, void *arg,
			   const struct admin_cmd *c, FILE *f, const char **why);
/* Drop the items naming path (absolute; items relative to data_dir are
 * resolved) from the members and spares lists of [KIND NAME] (an emptied
 * list loses its line), the same way: -ENOENT if no item names it. */
int admin_live_section_drop(struct tgt_model *m, const char *kind, const char *name,
			    const char *path, admin_apply_fn apply, void *arg,
			    const struct admin_cmd *c, FILE *f, const char **why);
/* Append a whole new section (text ending in "\n") the same way; apply gets
 * the parsed new configuration (raid create / pool create). */
int admin_live_add_section(struct tgt_model *m, const char *section, admin_apply_fn apply,
			   void *arg, const struct admin_cmd *c, FILE *f, const char **why);

/* raid ... / pool status requests (admin_storage.c). */
int admin_storage_raid(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why);
int admin_storage_pool(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why);
/* volume ... / snapshot create / clone create requests (admin_storage.c). */
int admin_storage_volume(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why);
int admin_storage_copy(struct tgt_model *m, const struct admin_cmd *c, FILE *f, const char **why);
/* snapshot create IQN LUN SNAP / clone create IQN LUN SNAP NEW_IMAGE on an
 * RBD LU (admin_rbd.c). */
struct scsi_lu;
int admin_rbd_copy(struct scsi_lu *lu, const struct admin_cmd *c, FILE *f, const char **why);
#endif
