/* SPDX-License-Identifier: Apache-2.0 */
/* The admin protocol's request parser: one request line (admin.h) in, a
 * decoded command out (which operation, its words, the numbers and flags
 * that need no lookup), or a reason. Pure: no socket, no configuration, no
 * globals; the handlers (admin.c, admin_live.c, admin_storage.c) do the
 * lookups (target, LUN, raid, pool) and the changes.
 *
 * The reasons are the protocol's "ERR <reason>" texts, byte for byte; a
 * check that the daemon has always made after a lookup (for example the word
 * count of `volume create` after the pool is found) stays in its handler, so
 * that the same bad request gets the same answer as before.
 *
 * Not for: what a command does, or the wire framing (admin.c reads the line).
 */
#ifndef KURA_ADMIN_PARSE_H
#define KURA_ADMIN_PARSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADMIN_MAX_LINE 1024
#define ADMIN_MAX_ARGS 12
/* lun add: the [lun N] section its key=value words become, at most. */
#define ADMIN_LUN_SECTION_MAX 1024

enum admin_op {
	ADMIN_LIST,       /* list targets|portals|luns|sessions: `what` */
	ADMIN_SHOW_LUN,   /* show lun IQN LUN: iqn, lun */
	ADMIN_CLEAR_RESV, /* clear-reservation IQN LUN: iqn, lun */
	ADMIN_ALUA_SHOW,
	ADMIN_ALUA_SET, /* alua set GROUP STATE: num, state */
	ADMIN_ACL_ADD,  /* acl add|remove IQN INITIATOR: iqn, argv[3] */
	ADMIN_ACL_REMOVE,
	ADMIN_CHAP_ADD,       /* chap add IQN USER SECRET: iqn, user, argv[4] */
	ADMIN_CHAP_REMOVE,    /* chap remove IQN USER: iqn, user */
	ADMIN_LUN_ADD,        /* lun add IQN LUN key=value...: iqn, lun, argv[4..] */
	ADMIN_LUN_REMOVE,     /* lun remove IQN LUN [--force]: iqn, lun, force */
	ADMIN_RAID_STATUS,    /* raid status [NAME] */
	ADMIN_RAID_SCRUB,     /* raid scrub NAME [--repair | --stop]: repair, stop */
	ADMIN_RAID_FAIL,      /* raid fail NAME ROLE: num */
	ADMIN_RAID_ADD_SPARE, /* raid add-spare NAME PATH */
	ADMIN_RAID_REMOVE,    /* raid remove NAME ROLE|PATH */
	ADMIN_RAID_CREATE,    /* raid create NAME key=value... */
	ADMIN_POOL_STATUS,    /* pool status [NAME] */
	ADMIN_POOL_GROW,      /* pool grow NAME [size=S] */
	ADMIN_POOL_CREATE,    /* pool create NAME key=value... */
	ADMIN_VOLUME_LIST,    /* volume list|create|resize|delete POOL ... */
	ADMIN_VOLUME_CREATE,
	ADMIN_VOLUME_RESIZE,
	ADMIN_VOLUME_DELETE,
	ADMIN_SNAPSHOT_CREATE, /* snapshot|clone create POOL ORIGIN NEW */
	ADMIN_CLONE_CREATE,
	ADMIN_METRICS,      /* metrics: the Prometheus text exposition */
	ADMIN_RBD_SNAPSHOT, /* snapshot create IQN LUN SNAP: iqn, lun, argv[4] */
	ADMIN_RBD_CLONE,    /* clone create IQN LUN SNAP NEW_IMAGE: iqn, lun, argv[4], argv[5] */
	ADMIN_N_OPS
};

enum admin_list { ADMIN_LIST_TARGETS, ADMIN_LIST_PORTALS, ADMIN_LIST_LUNS, ADMIN_LIST_SESSIONS };

struct admin_cmd {
	enum admin_op op;
	int argc; /* words, "--json" left out; argv[0] is the verb */
	const char *argv[ADMIN_MAX_ARGS];
	bool json;                    /* "--json" anywhere */
	const char *iqn;              /* acl, chap, lun, show, clear-reservation: argv[2] or [1] */
	const char *user;             /* chap: argv[3] */
	uint64_t lun;                 /* show, clear-reservation, lun */
	unsigned long num;            /* alua set: port group; raid fail: role */
	int state;                    /* alua set: enum scsi_alua_state */
	enum admin_list what;         /* list */
	bool force, repair, stop;     /* lun remove --force, pool create --force-new; raid scrub
				   * --repair / --stop */
	char buf[ADMIN_MAX_LINE + 1]; /* the words point here */
	/* Not the parser's: the request's scratch for a reason a handler builds
	 * (*why may point here until the answer is sent); set by admin.c. */
	char *msg;
	size_t msglen;
};

/* Split one request line (len bytes, no NUL needed; a trailing "\n" or
 * "\r\n" is allowed) into words. 0, or -EINVAL with *why set (empty, too
 * long, non-printable byte, too many words). */
int admin_parse_line(const char *line, size_t len, struct admin_cmd *out, const char **why);

/* Decode the words admin_parse_line() left in c: c->op and the fields named
 * beside it. 0, or -EINVAL with *why: "unknown command", a usage text or the
 * reason of a bad number. */
int admin_decode(struct admin_cmd *c, const char **why);

/* Both: the request line to a decoded command. */
int admin_parse(const char *line, size_t len, struct admin_cmd *out, const char **why);

#endif
