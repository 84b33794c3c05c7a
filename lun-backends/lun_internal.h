/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the LUN backends in this folder (not a public header).
 *
 * io->backend_priv is the in-flight scratch of whichever backend received
 * the io. Backends overlay a small struct of their own on it (checked with
 * lun_priv_fits) so the data path needs no allocation per I/O; the submitter
 * never touches it.
 *
 * Not for: anything the SCSI layer or other folders should call.
 */
#ifndef KURA_LUN_INTERNAL_H
#define KURA_LUN_INTERNAL_H
#include <stddef.h>
#include "common/container.h"
#include "common/iov.h"
#include "lun-backends/lun_backend.h"

#define lun_priv_fits(type) \
	_Static_assert(sizeof(type) <= sizeof(((struct lun_io *)0)->backend_priv), \
		       #type " must fit in lun_io.backend_priv")

#define lun_priv(io, type) ((type *)(void *)(io)->backend_priv)
#define lun_io_of_priv(p)  container_of((void *)(p), struct lun_io, backend_priv)

/* Complete io with result on io->loop from the next loop iteration (never
 * inline). Uses the first two words of backend_priv. */
void lun_complete_later(struct lun_io *io, int result);

/* COPY of a backend without submit_copy (lun_copy.c): nothing shared;
 * without LUN_IO_COPY_SHARE, read copy_src into io->iov, then write it. */
void lun_copy_generic(struct lun_backend *be, struct lun_io *io);

#endif
