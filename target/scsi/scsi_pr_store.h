/* SPDX-License-Identifier: Apache-2.0 */
/* Where a logical unit's persistent-reservation state is kept: a small
 * interface (load, versioned compare-and-swap store, change notification)
 * with two implementations, internal to target/scsi/:
 *
 * - the file store (scsi_pr_file.c): "<pr_dir>/<naa>.pr", written
 *   crash-safely by a helper thread; one server owns it, so a store never
 *   meets a newer record and nobody else changes it (no watch);
 * - the shared store (scsi_pr_shared.c): the record kept by the backend's
 *   shared state (lun_backend.h LUN_CAP_SHARED_STATE, e.g. a RADOS object
 *   next to an RBD image) that every gateway serving the LU replaces with a
 *   compare-and-swap on its sequence number and watches; every change is
 *   stored, and the other gateways have reloaded it before the PROUT that
 *   made it completes (docs/ceph.md "Reservations across gateways").
 *
 * The record is the one encoded by scsi_pr_encode (scsi_pr_file.c); with a
 * shared store it also carries the unit attentions of the latest changes,
 * so that every gateway raises them for its own nexuses.
 *
 * Not for: PR semantics (scsi_pr.c, scsi_pr_cmd.c).
 */
#ifndef KURA_SCSI_PR_STORE_H
#define KURA_SCSI_PR_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scsi_pr_store;
struct lun_backend;

struct scsi_pr_store_ops {
	/* Others change the record too: every PR change is stored, and a
	 * store can fail with -ECANCELED (reload, then run the PROUT again). */
	bool shared;
	/* The record: 0 with *b (malloc'd; NULL when there is none) and *seq,
	 * or -errno with a reason in why. Blocks (LU creation, helper threads). */
	int (*load)(struct scsi_pr_store *s, uint8_t **b, size_t *len, uint64_t *seq, char *why,
		    size_t whylen);
	/* Replace the record at seq with b (ownership passes; it becomes
	 * seq + 1); done(arg, 0 | -ECANCELED | -errno) later, on another
	 * thread. Never blocks; calls are kept in order. */
	void (*store)(struct scsi_pr_store *s, uint64_t seq, uint8_t *b, size_t len,
		      void (*done)(void *arg, int result), void *arg);
	/* changed(arg) on a helper thread when another server replaced the
	 * record; NULL when nobody else can. */
	int (*watch)(struct scsi_pr_store *s, void (*changed)(void *arg), void *arg);
	/* Stop watching, wait for pending stores, free. */
	void (*close)(struct scsi_pr_store *s);
	/* What the record is, for messages ("/var/lib/kura/pr/ab12….pr"). */
	const char *(*name)(const struct scsi_pr_store *s);
};

struct scsi_pr_store {
	const struct scsi_pr_store_ops *ops;
};

/* scsi_pr_file.c: the state file at path (copied); NULL on ENOMEM. */
struct scsi_pr_store *scsi_pr_store_file(const char *path);
/* scsi_pr_shared.c: the record of be's shared state (be declares
 * LUN_CAP_SHARED_STATE); NULL on ENOMEM. */
struct scsi_pr_store *scsi_pr_store_shared(struct lun_backend *be);
#endif
