/* SPDX-License-Identifier: Apache-2.0 */
/* The admin request parser (admin_parse.h): words, then a table of verbs,
 * each with a decoder that picks the operation and checks what needs no
 * lookup. Pure: no socket, no configuration, no globals.
 *
 * Not for: running a command (admin.c dispatches on c->op) or the INI text
 * a command writes (target/model/conf_write.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lun-backends/raid/lun_raid.h"
#include "target/admin/admin_parse.h"
#include "target/model/storage.h"
#include "target/scsi/scsi.h"
#include "target/scsi/scsi_alua.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

int admin_parse_line(const char *line, size_t len, struct admin_cmd *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	*why = "request too long";
	if (len > ADMIN_MAX_LINE)
		return -EINVAL;
	memcpy(out->buf, line, len);
	char *p = out->buf, *end = out->buf + len;
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t'))
			*p++ = '\0';
		if (p == end)
			break;
		*why = "too many words";
		if (out->argc == ADMIN_MAX_ARGS)
			return -EINVAL;
		const char *w = p;
		for (; p < end && *p != ' ' && *p != '\t'; p++)
			if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7E) {
				*why = "non-printable byte in request";
				return -EINVAL;
			}
		if (p - w == 6 && !strncmp(w, "--json", 6))
			out->json = true;
		else
			out->argv[out->argc++] = w;
	}
	*why = "empty request";
	return out->argc ? 0 : -EINVAL;
}

static bool word_is(const struct admin_cmd *c, int i, const char *s)
{
	return i < c->argc && !strcmp(c->argv[i], s);
}

/* Is some word from argv[from] on a "prefix..." word? */
static bool has_word(const struct admin_cmd *c, int from, const char *prefix)
{
	for (int i = from; i < c->argc; i++)
		if (!strncmp(c->argv[i], prefix, strlen(prefix)))
			return true;
	return false;
}

/* A LUN number as show / clear-reservation take it. */
static int lun_number(struct admin_cmd *c, const char *w, const char **why)
{
	char *end;
	errno = 0;
	c->lun = strtoull(w, &end, 10);
	*why = "bad LUN number";
	return errno || *end || c->lun >= SCSI_MAX_LUNS || w[0] == '-' ? -EINVAL : 0;
}

/* ---- list, show, clear-reservation, alua ---- */

static int dec_list(struct admin_cmd *c, const char **why)
{
	static const char *const what[] = { "targets", "portals", "luns", "sessions" };
	*why = "usage: list targets|portals|luns|sessions [--json]";
	for (size_t i = 0; c->argc == 2 && i < N_OF(what); i++)
		if (!strcmp(c->argv[1], what[i])) {
			c->op = ADMIN_LIST;
			c->what = (enum admin_list)i;
			return 0;
		}
	return -EINVAL;
}

static int dec_show(struct admin_cmd *c, const char **why)
{
	*why = "usage: show lun IQN LUN [--json]";
	if (c->argc != 4 || strcmp(c->argv[1], "lun"))
		return -EINVAL;
	c->op = ADMIN_SHOW_LUN;
	c->iqn = c->argv[2];
	return lun_number(c, c->argv[3], why);
}

static int dec_clear_resv(struct admin_cmd *c, const char **why)
{
	*why = "usage: clear-reservation IQN LUN";
	if (c->argc != 3)
		return -EINVAL;
	c->op = ADMIN_CLEAR_RESV;
	c->iqn = c->argv[1];
	return lun_number(c, c->argv[2], why);
}

static int dec_alua(struct admin_cmd *c, const char **why)
{
	char *end;
	*why = "usage: alua show | alua set PORT_GROUP STATE";
	c->op = ADMIN_ALUA_SHOW;
	if (c->argc == 2 && !strcmp(c->argv[1], "show"))
		return 0;
	if (c->argc != 4 || strcmp(c->argv[1], "set"))
		return -EINVAL;
	c->op = ADMIN_ALUA_SET;
	c->num = strtoul(c->argv[2], &end, 10);
	c->state = scsi_alua_state_parse(c->argv[3]);
	*why = "bad port group or state";
	return *end || c->num == 0 || c->num > 65535 || c->state < 0 ? -EINVAL : 0;
}

/* ---- acl, chap, lun ---- */

static int dec_acl(struct admin_cmd *c, const char **why)
{
	*why = "usage: acl add|remove IQN INITIATOR";
	if (c->argc != 4 || (strcmp(c->argv[1], "add") && strcmp(c->argv[1], "remove")))
		return -EINVAL;
	c->op = !strcmp(c->argv[1], "add") ? ADMIN_ACL_ADD : ADMIN_ACL_REMOVE;
	c->iqn = c->argv[2];
	return 0;
}

/* The accounts are stored as "USER:SECRET" (at most ADMIN_CHAP_VALUE_MAX). */
#define ADMIN_CHAP_VALUE_MAX 600

static int dec_chap(struct admin_cmd *c, const char **why)
{
	bool add = c->argc == 5 && !strcmp(c->argv[1], "add");
	*why = "usage: chap add IQN USER SECRET | chap remove IQN USER";
	if (!add && (c->argc != 4 || strcmp(c->argv[1], "remove")))
		return -EINVAL;
	c->op = add ? ADMIN_CHAP_ADD : ADMIN_CHAP_REMOVE;
	c->iqn = c->argv[2];
	c->user = c->argv[3];
	*why = "CHAP user names cannot contain ':'";
	if (strchr(c->user, ':'))
		return -EINVAL;
	size_t n = strlen(c->user) + 1 + (add ? strlen(c->argv[4]) : 0);
	*why = "CHAP user or secret too long";
	return n >= ADMIN_CHAP_VALUE_MAX ? -EINVAL : 0;
}

static const char *const lun_keys[] = {
	"backend=",   "path=",     "size=",     "block_size=",  "thin=",
	"pool=",      "volume=",   "raid=",     "read_only=",   "rbd_pool=",
	"rbd_image=", "rbd_conf=", "rbd_user=", "rbd_keyring=", "rbd_namespace="
};

/* The key=value words of lun add, checked as the [lun N] section they
 * become (conf_lun_section) is built: a word past its ADMIN_LUN_SECTION_MAX
 * bytes is not looked at. */
static int lun_words(const struct admin_cmd *c, const char **why)
{
	size_t n = strlen("[lun ]\n") + (c->lun >= 100 ? 3 : c->lun >= 10 ? 2 : 1);
	bool file = false;
	for (int i = 4; i < c->argc && n < ADMIN_LUN_SECTION_MAX; i++) {
		const char *a = c->argv[i];
		size_t k = 0;
		while (k < N_OF(lun_keys) && strncmp(a, lun_keys[k], strlen(lun_keys[k])))
			k++;
		*why = "lun add takes backend=file|memory|thin|raid|rbd, path=, size=, block_size=, thin=, "
		       "pool=, volume=, raid=, read_only=, rbd_pool=, rbd_image=, rbd_conf=, rbd_user=, "
		       "rbd_keyring=, rbd_namespace=";
		if (k == N_OF(lun_keys) || strpbrk(a, ";#[]"))
			return -EINVAL;
		file |= !strcmp(a, "backend=file");
		n += strlen(a) + 3; /* "key=value" -> "key = value\n" */
	}
	if (file && n < ADMIN_LUN_SECTION_MAX)
		n += strlen("create = yes\n");
	*why = "request too long";
	return n + 2 >= ADMIN_LUN_SECTION_MAX ? -EINVAL : 0;
}

static int dec_lun(struct admin_cmd *c, const char **why)
{
	char *end;
	bool add = c->argc >= 2 && !strcmp(c->argv[1], "add");
	*why = "usage: lun add IQN LUN backend=file|memory [path=P] size=S [block_size=B] [thin=yes|no] | "
	       "lun add IQN LUN backend=thin pool=P volume=ID [read_only=yes] [block_size=B] | "
	       "lun remove IQN LUN [--force]";
	if (c->argc < 4 || (!add && strcmp(c->argv[1], "remove")))
		return -EINVAL;
	c->op = add ? ADMIN_LUN_ADD : ADMIN_LUN_REMOVE;
	c->iqn = c->argv[2];
	c->lun = strtoull(c->argv[3], &end, 10);
	*why = "LUN must be a number 0..255";
	if (*end || c->argv[3][0] == '-' || c->lun >= SCSI_MAX_LUNS)
		return -EINVAL;
	if (add)
		return lun_words(c, why);
	c->force = c->argc == 5 && !strcmp(c->argv[4], "--force");
	*why = "usage: lun remove IQN LUN [--force]";
	return c->argc == 4 || c->force ? 0 : -EINVAL;
}

/* ---- raid, pool ---- */

static bool name_ok(const char *n)
{
	return !strpbrk(n, ";#[]=,") && strlen(n) < TGT_STORAGE_NAME_MAX;
}

static int dec_raid_scrub(struct admin_cmd *c, const char **why)
{
	c->repair = c->argc == 4 && !strcmp(c->argv[3], "--repair");
	c->stop = c->argc == 4 && !strcmp(c->argv[3], "--stop");
	*why = "usage: raid scrub NAME [--repair | --stop]";
	return c->argc != 3 && !c->repair && !c->stop ? -EINVAL : 0;
}

static int dec_raid_fail(struct admin_cmd *c, const char **why)
{
	char *end;
	*why = "usage: raid fail NAME ROLE";
	if (c->argc != 4)
		return -EINVAL;
	long role = strtol(c->argv[3], &end, 10);
	*why = "bad role";
	if (*end || role < 0 || role >= LUN_RAID_MAX_MEMBERS)
		return -EINVAL;
	c->num = (unsigned long)role;
	return 0;
}

static int dec_raid_create(struct admin_cmd *c, const char **why)
{
	*why = "usage: raid create NAME level=0|1|5|6|10 members=P1,P2,... member_size=S [chunk=C]";
	return c->argc < 6 || !name_ok(c->argv[2]) || !has_word(c, 3, "level=") ||
			       !has_word(c, 3, "members=") || !has_word(c, 3, "member_size=")
		       ? -EINVAL
		       : 0;
}

static int dec_raid(struct admin_cmd *c, const char **why)
{
	static const struct {
		const char *name;
		enum admin_op op;
		int words;
		const char *usage;
	} sub[] = {
		{ "status", ADMIN_RAID_STATUS, 0, NULL },
		{ "scrub", ADMIN_RAID_SCRUB, -1, NULL },
		{ "fail", ADMIN_RAID_FAIL, -1, NULL },
		{ "add-spare", ADMIN_RAID_ADD_SPARE, 4, "usage: raid add-spare NAME PATH" },
		{ "remove", ADMIN_RAID_REMOVE, 4, "usage: raid remove NAME ROLE|PATH" },
		{ "create", ADMIN_RAID_CREATE, -1, NULL },
	};
	*why = "usage: raid status [NAME] | scrub NAME [--repair | --stop] | fail NAME ROLE | remove NAME ROLE|PATH | "
	       "add-spare NAME PATH | "
	       "create NAME level=L members=P1,P2,... member_size=S [chunk=C]";
	if (c->argc < 2 || (c->argc > 3 && !strcmp(c->argv[1], "status")))
		return -EINVAL;
	size_t i = 0;
	while (i < N_OF(sub) && strcmp(c->argv[1], sub[i].name))
		i++;
	if (i == N_OF(sub))
		return -EINVAL;
	c->op = sub[i].op;
	if (sub[i].usage) {
		*why = sub[i].usage;
		return c->argc != sub[i].words ? -EINVAL : 0;
	}
	return c->op == ADMIN_RAID_SCRUB    ? dec_raid_scrub(c, why)
	       : c->op == ADMIN_RAID_FAIL   ? dec_raid_fail(c, why)
	       : c->op == ADMIN_RAID_CREATE ? dec_raid_create(c, why)
					    : 0;
}

static int dec_pool(struct admin_cmd *c, const char **why)
{
	if (word_is(c, 1, "grow")) {
		c->op = ADMIN_POOL_GROW;
		*why = "usage: pool grow NAME [size=S]";
		return c->argc != 3 && c->argc != 4 ? -EINVAL : 0;
	}
	if (word_is(c, 1, "create")) {
		c->force = c->argc > 3 && !strcmp(c->argv[c->argc - 1], "--force-new");
		c->argc -= c->force; /* the section's words are key=value */
		bool path = has_word(c, 3, "path="), raid = has_word(c, 3, "raid=");
		c->op = ADMIN_POOL_CREATE;
		*why = "usage: pool create NAME path=FILE [size=S] | raid=NAME, [chunk_size=C] [meta=M] "
		       "[--force-new]";
		return c->argc < 4 || !name_ok(c->argv[2]) || path == raid ? -EINVAL : 0;
	}
	c->op = ADMIN_POOL_STATUS;
	*why = "usage: pool status [NAME] [--json] | pool grow NAME [size=S] | pool create NAME ...";
	return c->argc < 2 || c->argc > 3 || strcmp(c->argv[1], "status") ? -EINVAL : 0;
}

/* ---- volume, snapshot, clone ---- */

static int dec_volume(struct admin_cmd *c, const char **why)
{
	static const char *const sub[] = { "list", "create", "resize", "delete" };
	*why = "usage: volume list POOL | create POOL ID size=S | resize POOL ID size=S | delete POOL ID";
	for (size_t i = 0; c->argc >= 3 && i < N_OF(sub); i++)
		if (!strcmp(c->argv[1], sub[i])) {
			c->op = (enum admin_op)(ADMIN_VOLUME_LIST + i);
			return 0;
		}
	return -EINVAL;
}

/* An RBD snapshot or image name: what rbd(8) would not read back as
 * POOL/IMAGE@SNAP, and no INI syntax (the clone may be saved in a [lun]). */
static bool rbd_name_ok(const char *n)
{
	return n[0] && !strpbrk(n, "/@;#[]=,") && strlen(n) < 256;
}

/* snapshot create IQN LUN SNAP | clone create IQN LUN SNAP NEW_IMAGE: the
 * LU's RBD image (the target names are iqn., eui. or naa. names; a pool
 * name is none of them). */
static bool copy_is_rbd(const struct admin_cmd *c)
{
	const char *w = c->argc > 2 ? c->argv[2] : "";
	return !strncmp(w, "iqn.", 4) || !strncmp(w, "eui.", 4) || !strncmp(w, "naa.", 4);
}

static int dec_rbd_copy(struct admin_cmd *c, bool snap, const char **why)
{
	c->op = snap ? ADMIN_RBD_SNAPSHOT : ADMIN_RBD_CLONE;
	*why = snap ? "usage: snapshot create IQN LUN SNAP_NAME"
		    : "usage: clone create IQN LUN SNAP_NAME NEW_IMAGE";
	if (c->argc != (snap ? 5 : 6) || strcmp(c->argv[1], "create"))
		return -EINVAL;
	c->iqn = c->argv[2];
	if (lun_number(c, c->argv[3], why) < 0)
		return -EINVAL;
	*why = "RBD snapshot and image names cannot be empty or hold / @ ; # [ ] = ,";
	for (int i = 4; i < c->argc; i++)
		if (!rbd_name_ok(c->argv[i]))
			return -EINVAL;
	return 0;
}

static int dec_copy(struct admin_cmd *c, const char **why)
{
	bool snap = !strcmp(c->argv[0], "snapshot");
	if (copy_is_rbd(c))
		return dec_rbd_copy(c, snap, why);
	c->op = snap ? ADMIN_SNAPSHOT_CREATE : ADMIN_CLONE_CREATE;
	*why = snap ? "usage: snapshot create POOL ORIGIN_ID NEW_ID"
		    : "usage: clone create POOL ORIGIN_ID NEW_ID";
	return c->argc != 5 || strcmp(c->argv[1], "create") ? -EINVAL : 0;
}

static int dec_metrics(struct admin_cmd *c, const char **why)
{
	*why = "usage: metrics";
	c->op = ADMIN_METRICS;
	return c->argc == 1 ? 0 : -EINVAL;
}

static const struct {
	const char *verb;
	int (*decode)(struct admin_cmd *c, const char **why);
} verbs[] = {
	{ "list", dec_list },
	{ "show", dec_show },
	{ "clear-reservation", dec_clear_resv },
	{ "alua", dec_alua },
	{ "acl", dec_acl },
	{ "chap", dec_chap },
	{ "lun", dec_lun },
	{ "raid", dec_raid },
	{ "pool", dec_pool },
	{ "volume", dec_volume },
	{ "snapshot", dec_copy },
	{ "clone", dec_copy },
	{ "metrics", dec_metrics },
};

int admin_decode(struct admin_cmd *c, const char **why)
{
	for (size_t i = 0; c->argc > 0 && i < N_OF(verbs); i++)
		if (!strcmp(c->argv[0], verbs[i].verb))
			return verbs[i].decode(c, why);
	*why = "unknown command";
	return -EINVAL;
}

int admin_parse(const char *line, size_t len, struct admin_cmd *out, const char **why)
{
	int r = admin_parse_line(line, len, out, why);
	return r < 0 ? r : admin_decode(out, why);
}
