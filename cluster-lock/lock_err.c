/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lock_err.c: names of the lock library's domain errors (LOCK_E_*), with
 * strerror() for the -errno values. Not for logging or policy.
 */
#include <string.h>
#include "cluster-lock/lock.h"

static const struct {
	int err;
	const char *text;
} lock_errs[] = {
	{ LOCK_E_MISCOMPARE, "compare-and-write miscompare (record changed)" },
	{ LOCK_E_CONFLICT, "lease conflict (held elsewhere or lver mismatch)" },
	{ LOCK_E_FENCED, "this host is fenced" },
	{ LOCK_E_CORRUPT, "corrupt record (bad magic, version or checksum)" },
	{ LOCK_E_FOREIGN, "the LUN belongs to another cluster" },
	{ LOCK_E_UNFORMATTED, "the LUN holds no kura lock header" },
	{ LOCK_E_INUSE, "host id in use by a live host" },
	{ LOCK_E_RESV_CONFLICT, "reservation conflict" },
	{ LOCK_E_UNREACHABLE, "LUN unreachable on every path" },
	{ LOCK_E_SCSI, "SCSI error" },
	{ LOCK_E_NOSPACE, "no free lease record" },
	{ LOCK_E_NOTFOUND, "no such lease" },
	{ LOCK_E_LEFT, "this host's slot is marked leaving" },
};

const char *lock_strerror(int err)
{
	for (size_t i = 0; i < sizeof(lock_errs) / sizeof(lock_errs[0]); i++)
		if (lock_errs[i].err == err)
			return lock_errs[i].text;
	return strerror(err < 0 ? -err : err);
}
