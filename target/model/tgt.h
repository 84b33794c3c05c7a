/* The target daemon's model: configuration as loaded (portals, targets, LUNs,
 * ACLs, CHAP, limits) and the live objects built from it (LUs, LUN maps,
 * storage stacks).
 *
 * config.c / config_sections.c fill a tgt_config from an INI file or the
 * embedded default; tgt_model_open (model.h) builds the live model
 * from it; after that only the operations of model.h change it (the admin
 * socket calls them); conf_write.c writes the file back. The server
 * (target/transport/) runs it; main.c glues them.
 *
 * The parsed value and the live model still share these structs. Fields
 * marked "model:" belong to the live model: written only by model.c (the
 * operations of model.h) and, for the storage stacks, by storage.c's control
 * thread. Every other field is the parsed value: set by tgt_config_load and
 * the command-line overrides, completed by tgt_model_open (LUN paths made
 * absolute, the PR directory), and never written once the server runs. A
 * run-time change parses a new copy of the configuration and the model
 * operations read what they need from that copy, which is then freed.
 */
#ifndef KURA_TGT_H
#define KURA_TGT_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "target/iscsi/iscsi_login.h"
#include "target/scsi/scsi.h"
#include "target/model/storage.h"

#define TGT_MAX_PORTALS 16
#define TGT_MAX_TARGETS 64

struct tgt_portal {
	char addr[64];               /* numeric IPv4 or IPv6 address as configured */
	uint16_t port;
	uint16_t tpgt;               /* target portal group tag advertised in SendTargets */
	uint16_t rel_port_id;        /* SCSI relative target port identifier (1-based) */
	uint16_t tpg_id;             /* ALUA target port group */
};

struct tgt_lun_conf {
	uint64_t lun;
	struct lun_backend_params backend;  /* strings point into the config's storage */
	struct scsi_lu_params ident;
	struct scsi_lu *lu;          /* model: opened by tgt_model_open() */
	struct lun_stack_lun stor;   /* backend = thin / raid (lun-backends/lun_registry.h) */
};

struct tgt_target {
	char iqn[224];
	char alias[256];
	struct tgt_lun_conf *luns;   /* model: grows and shrinks at run time (admin thread) */
	int n_luns;
	char (*acl)[224];            /* model: initiator names allowed; n_acl == 0 => everyone */
	int n_acl;
	struct chap_account *chap_in;   /* model: accounts initiators log in with; 0 => none required */
	int n_chap_in;
	struct chap_account *chap_out;  /* mutual CHAP: the target's own account, or NULL */
	struct scsi_lun_map *map;    /* model: built by tgt_model_open() */
};

struct tgt_config {
	struct tgt_portal portals[TGT_MAX_PORTALS];
	int n_portals;
	struct tgt_target *targets;
	int n_targets;
	struct chap_account *disc_chap_in;  /* discovery authentication (0 => none) */
	int n_disc_chap_in;
	struct chap_account *disc_chap_out;
	struct iscsi_target_limits limits;
	char data_dir[4096];
	int workers;                 /* worker threads; 0 => one per CPU */
	uint32_t nop_interval_ms;    /* NOP-In ping interval when idle [5000] */
	uint32_t nop_timeout_ms;     /* connection dead if no answer [15000] */
	uint32_t queue_depth;        /* commands per session window (MaxCmdSN - ExpCmdSN + 1) [256] */
	char user[64];               /* drop root to this account after binding ("" => no drop) */
	int log_level;               /* enum klog_level from [global] log_level, or -1 if unset */
	char source[4096];           /* file name for messages, or "<embedded>" */
	void *storage;               /* private: string storage */
	struct lun_stack_conf stack; /* [raid] / [pool] sections (lun_registry.h); model: grows at run time */
	struct tgt_storage_rt *stor_rt; /* model, private: control thread (storage.c) */
	/* model: run-time ACL / CHAP changes (tgt_model_set_access): live_lock
	 * is held by the login policy while it reads a target's acl / chap_in and
	 * by the admin thread while it swaps them in; never across I/O. Arrays
	 * replaced at run time are kept on `retired` until tgt_config_free(),
	 * because a login in progress may still point at the old CHAP accounts. */
	pthread_mutex_t live_lock;
	struct tgt_retired *retired;
	char config_path[4096];      /* absolute path of -c FILE ("" => embedded) */
	char *run_text;              /* model, private: without -c FILE, the text as changed (model.h) */
};

/* Parse an INI file (path) or, if path is NULL, the embedded default.
 * On error returns -EINVAL and writes "file:line: reason" into err. */
int tgt_config_load(const char *path, struct tgt_config *cfg, char *err, size_t errlen);
/* Apply command-line overrides after load. */
int tgt_config_set_listen(struct tgt_config *cfg, const char *const *addrs, int n, char *err, size_t errlen);
int tgt_config_set_data_dir(struct tgt_config *cfg, const char *dir);
void tgt_config_free(struct tgt_config *cfg);
/* Run-time changes to the model: model.h. */
/* The embedded default configuration text (INI). */
extern const char tgt_default_config[];

#endif
