/* The initiator's node database, in open-iscsi's on-disk layout and record
 * format, so an existing /etc/iscsi tree can be read and administrators'
 * habits carry over:
 *
 *   <root>/initiatorname.iscsi            InitiatorName=iqn....
 *   <root>/nodes/<iqn>/<ip>,<port>,<tpgt>/<iface>   one node record
 *   <root>/send_targets/<ip>,<port>/st_config       discovery record
 *   <root>/ifaces/<iface>                  iface record
 *
 * A record is "# BEGIN RECORD <version>" ... "key = value" lines ...
 * "# END RECORD". Keys keep open-iscsi's names (node.name, node.tpgt,
 * node.startup, node.conn[0].address, node.conn[0].port,
 * node.session.auth.authmethod, node.session.auth.username, .password,
 * .username_in, .password_in, discovery.sendtargets.auth.*, iface.*, ...).
 * Unknown keys are preserved when a record is rewritten. Writes are atomic
 * (write temp, fsync, rename, fsync dir).
 *
 * Shared by kura-iscsiadm and kura-initiatord. Not for: iSCSI I/O.
 */
#ifndef KURA_NODEDB_H
#define KURA_NODEDB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NODEDB_DEFAULT_ROOT "/etc/iscsi"

/* An ordered key/value record (keys unique). */
struct nodedb_rec;
struct nodedb_rec *nodedb_rec_new(void);
void nodedb_rec_free(struct nodedb_rec *r);
const char *nodedb_get(const struct nodedb_rec *r, const char *key);   /* NULL if absent */
int nodedb_set(struct nodedb_rec *r, const char *key, const char *value); /* 0 / -errno */
int nodedb_count(const struct nodedb_rec *r);
const char *nodedb_key_at(const struct nodedb_rec *r, int i);
/* Parse / format the record text. parse: 0 or -EINVAL (line in *errline). */
int nodedb_parse(const char *text, size_t len, struct nodedb_rec **out, int *errline);
char *nodedb_format(const struct nodedb_rec *r);   /* malloc'd */

/* Identity of a node record. */
struct nodedb_node_id {
	char target[224];
	char address[64];        /* numeric IP (IPv6 without brackets) */
	uint16_t port;
	int tpgt;                /* -1 if unknown */
	char iface[64];          /* "default" unless bound */
};

/* Filesystem operations under root. All return 0 or -errno. */
int nodedb_initiator_name(const char *root, char *out, size_t len);
int nodedb_node_load(const char *root, const struct nodedb_node_id *id, struct nodedb_rec **out);
int nodedb_node_store(const char *root, const struct nodedb_node_id *id, const struct nodedb_rec *r);
int nodedb_node_delete(const char *root, const struct nodedb_node_id *id);
/* Enumerate node records matching the filter (NULL / empty / port 0 / tpgt -1 = any). */
typedef int (*nodedb_node_cb)(const struct nodedb_node_id *id, void *arg);
int nodedb_node_foreach(const char *root, const char *target, const char *address, uint16_t port,
			nodedb_node_cb cb, void *arg);
/* A new node record with open-iscsi's defaults for id. */
struct nodedb_rec *nodedb_node_defaults(const struct nodedb_node_id *id);

int nodedb_st_load(const char *root, const char *address, uint16_t port, struct nodedb_rec **out);
int nodedb_st_store(const char *root, const char *address, uint16_t port, const struct nodedb_rec *r);
int nodedb_st_delete(const char *root, const char *address, uint16_t port);
int nodedb_iface_load(const char *root, const char *name, struct nodedb_rec **out);
int nodedb_iface_store(const char *root, const char *name, const struct nodedb_rec *r);
int nodedb_iface_delete(const char *root, const char *name);
#endif
