/* SPDX-License-Identifier: Apache-2.0 */
/* The one writer of the configuration file. A run-time change (kura-targetctl
 * acl / chap / lun / raid / pool requests) is made to the file's *text*, so
 * that comments, blank lines, unknown keys and the order of everything
 * survive: only the lines the change is about are inserted, rewritten or
 * dropped. The edits are pure (text in, text out, a reason on refusal);
 * the file is then replaced atomically: new text to a temporary file in the
 * same directory, fsync, rename over the file, fsync the directory
 * (common/fileutil.h), in two steps so that the caller can parse the new
 * file (tgt_config_load) before it replaces the old one.
 *
 * Not for: the INI grammar and its validation (config.c), or what a change
 * does to the running target (target/admin/admin_live.c applies it).
 */
#ifndef KURA_CONF_WRITE_H
#define KURA_CONF_WRITE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A growable text; wiped when it grows or is freed (it may hold secrets). */
struct conf_buf {
	char *s;
	size_t len, cap;
};

int conf_buf_put(struct conf_buf *b, const char *s, size_t n);
void conf_buf_free(struct conf_buf *b);

enum conf_edit_op {
	/* "key = value" after the last key (or alias) line of [kind name], or
	 * right after its header if it has none */
	CONF_LINE_ADD,
	/* drop the key / alias lines of [kind name] whose value is `value`
	 * (with prefix: starts with it); -ENOENT if none */
	CONF_LINE_DROP,
	/* rewrite key's first line in [kind name] as "key = value" (with append
	 * "key = OLD, value"); a section without the key gets it after its header */
	CONF_KEY_SET,
	/* drop the items naming the absolute path `value` (items relative to
	 * data_dir are resolved) from the members / spares lists of [kind name];
	 * an emptied list loses its line; -ENOENT if no item names it */
	CONF_ITEM_DROP,
	/* append `section` (whole text, ending in "\n") after a blank line */
	CONF_SECTION_ADD,
	/* insert `section` right before the first header after [target name], so
	 * that "[lun N]" binds to that target */
	CONF_LUN_ADD,
	/* drop the [lun N] section of target `name` ([lun N] after its
	 * [target] header, or [lun NAME:N]), header to next header */
	CONF_LUN_DROP,
};

struct conf_edit {
	enum conf_edit_op op;
	const char *kind, *name; /* the section [KIND NAME] (LUN ops: kind "target") */
	const char *key, *alias; /* alias: a second key the line ops also match, or NULL */
	const char *value;
	bool prefix, append;
	const char *section;  /* CONF_SECTION_ADD, CONF_LUN_ADD */
	uint64_t lun;         /* CONF_LUN_DROP */
	const char *data_dir; /* CONF_ITEM_DROP */
};

/* Apply ed to text (NUL-terminated) into *out (empty on entry; the caller
 * frees it). 0, or -errno with *why: -ENOENT when the section or the entry
 * is not there, -ENOMEM. */
int conf_edit_text(const char *text, const struct conf_edit *ed, struct conf_buf *out,
		   const char **why);

/* The file's whole text into *out. 0 or -errno. */
int conf_read(const char *path, struct conf_buf *out);

/* Step 1: text into a new temporary file in dir (mode; fsync'ed); its name
 * in tmp. Step 2: rename it over path and fsync the directory. */
int conf_stage(const char *dir, const char *text, mode_t mode, char *tmp, size_t tmplen);
int conf_install(const char *tmp, const char *path);

/* Both steps: replace path with text atomically, keeping path's mode
 * (0600 for a new file). 0 or -errno; on failure path is unchanged. */
int conf_write_file(const char *path, const char *text);

#endif
