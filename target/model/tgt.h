/* SPDX-License-Identifier: Apache-2.0 */
/* The target daemon's parsed configuration: portals, targets, LUNs, ACLs,
 * CHAP, limits, the [raid] / [pool] sections, as loaded from an INI file or
 * the embedded default.
 *
 * config.c / config_sections.c fill a tgt_config (tgt_config_load, then the
 * command-line overrides tgt_config_set_*); after that it is a value that
 * nothing writes: every function that reads it takes it const. The live
 * model (struct tgt_model, model.h) is a separate type built from it by
 * tgt_model_open: it copies what changes at run time (a target's LUN list,
 * ACL, CHAP accounts, the storage sections), completes LUN paths (data_dir)
 * and holds the LUs and LUN maps; only the operations of model.h change it.
 * conf_write.c writes the file back; the server (target/transport/) runs the
 * model; main.c glues them. A run-time change parses a new copy of the
 * configuration and the model operations copy what they need from it.
 */
#ifndef KURA_TGT_H
#define KURA_TGT_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include "target/iscsi/iscsi_login.h"
#include "target/scsi/scsi.h"
#include "target/model/storage.h"

#define TGT_MAX_PORTALS   16
#define TGT_MAX_TARGETS   64
#define TGT_MAX_GATEWAYS  16 /* one ALUA port group each (SCSI_ALUA_MAX_GROUPS) */
#define TGT_GATEWAY_PORTS 16 /* relative port ids per gateway (= TGT_MAX_PORTALS) */

struct tgt_portal {
	char addr[64]; /* numeric IPv4 or IPv6 address as configured */
	uint16_t port;
	uint16_t tpgt;        /* target portal group tag advertised in SendTargets */
	uint16_t rel_port_id; /* SCSI relative target port identifier (1-based) */
	uint16_t tpg_id;      /* ALUA target port group */
};

struct tgt_lun_conf {
	uint64_t lun;
	struct lun_backend_params backend; /* strings point into the config's storage */
	struct scsi_lu_params ident;
	struct lun_stack_lun stor; /* backend = thin / raid (lun-backends/lun_registry.h) */
};

/* A [target] as parsed; its live counterpart is struct tgt_target (model.h). */
struct tgt_target_conf {
	char iqn[224];
	char alias[256];
	struct tgt_lun_conf *luns;
	int n_luns;
	char (*acl)[224]; /* initiator names allowed; n_acl == 0 => everyone */
	int n_acl;
	struct chap_account *chap_in; /* accounts initiators log in with; 0 => none required */
	int n_chap_in;
	struct chap_account *chap_out; /* mutual CHAP: the target's own account, or NULL */
};

struct tgt_config {
	struct tgt_portal portals[TGT_MAX_PORTALS];
	int n_portals;
	struct tgt_target_conf *targets;
	int n_targets;
	struct chap_account *disc_chap_in; /* discovery authentication (0 => none) */
	int n_disc_chap_in;
	struct chap_account *disc_chap_out;
	struct iscsi_target_limits limits;
	char data_dir[4096];
	int data_dir_line;        /* of the data_dir key (0: default or --data-dir) */
	int workers;              /* worker threads; 0 => one per CPU */
	uint32_t nop_interval_ms; /* NOP-In ping interval when idle [5000] */
	uint32_t nop_timeout_ms;  /* connection dead if no answer [15000] */
	uint32_t queue_depth;     /* commands per session window (MaxCmdSN - ExpCmdSN + 1) [256] */
	char user[64];            /* drop root to this account after binding ("" => no drop) */
	int log_level;            /* enum klog_level from [global] log_level, or -1 if unset */
	/* Several gateways serving the same storage (docs/ceph.md): this
	 * gateway's number (1..TGT_MAX_GATEWAYS, 0 = a single target as
	 * before) and how many there are. Port group = gateway_id; relative
	 * port ids (gateway_id - 1) * TGT_GATEWAY_PORTS + 1.. (cfg_finish). */
	uint16_t gateway_id;
	uint16_t gateways;
	char source[4096];           /* file name for messages, or "<embedded>" */
	void *storage;               /* private: string storage */
	struct lun_stack_conf stack; /* [raid] / [pool] sections (lun_registry.h) */
	char config_path[4096];      /* absolute path of -c FILE ("" => embedded) */

	/* limits against hostile or runaway initiators (docs/security.md) */
	uint64_t buffer_budget;           /* command buffer bytes, all sessions; 0 => from RAM */
	uint32_t max_connections;         /* TCP connections at once [1024] */
	uint32_t max_conns_per_initiator; /* sessions per InitiatorName [256] */
	uint32_t login_timeout_ms;        /* a connection must finish login within this [15000] */
};

/* Parse an INI file (path) or, if path is NULL, the embedded default.
 * On error returns -EINVAL and writes "file:line: reason" into err. */
int tgt_config_load(const char *path, struct tgt_config *cfg, char *err, size_t errlen);
/* Apply command-line overrides after load. */
int tgt_config_set_listen(struct tgt_config *cfg, const char *const *addrs, int n, char *err,
			  size_t errlen);
int tgt_config_set_data_dir(struct tgt_config *cfg, const char *dir);
/* --check-config: open (read-only) every path the configuration names --
 * LUN files and block devices, pool data and metadata files, RAID members
 * and spares -- and, for one that does not exist yet and would be created,
 * check its directory. Prints "FILE:LINE: problem" to out for each problem
 * (LINE of the section naming the path) and returns how many there were. */
int tgt_config_check_paths(const struct tgt_config *cfg, FILE *out);
/* Free what load allocated (after the model built from cfg is closed). */
void tgt_config_free(struct tgt_config *cfg);
/* The live model and its run-time changes: model.h. */
/* The embedded default configuration text (INI). */
extern const char tgt_default_config[];

#endif
