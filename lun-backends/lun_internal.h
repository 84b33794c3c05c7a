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
#include "lun-backends/lun_backend.h"

#define lun_priv_fits(type) _Static_assert(sizeof(type) <= sizeof(((struct lun_io *)0)->backend_priv), \
					   #type " must fit in lun_io.backend_priv")

#define lun_priv(io, type) ((type *)(void *)(io)->backend_priv)
#define lun_io_of_priv(p) ((struct lun_io *)(void *)((char *)(p) - offsetof(struct lun_io, backend_priv)))

/* Complete io with result on io->loop from the next loop iteration (never
 * inline). Uses the first two words of backend_priv. */
void lun_complete_later(struct lun_io *io, int result);

/* COPY of a backend without submit_copy (lun_copy.c): nothing shared;
 * without LUN_IO_COPY_SHARE, read copy_src into io->iov, then write it. */
void lun_copy_generic(struct lun_backend *be, struct lun_io *io);

/* Total bytes described by an iovec array. */
size_t lun_iov_bytes(const struct iovec *iov, int iovcnt);

/* Copy between an iovec array (starting skip bytes in) and a flat buffer. */
void lun_iov_to_buf(const struct iovec *iov, int iovcnt, size_t skip, void *buf, size_t len);
void lun_buf_to_iov(const struct iovec *iov, int iovcnt, size_t skip, const void *buf, size_t len);

/* Zero len bytes of iov from skip; first non-zero byte of that window, or len. */
void lun_iov_zero(const struct iovec *iov, int iovcnt, size_t skip, size_t len);
size_t lun_iov_cmp_zero(const struct iovec *iov, int iovcnt, size_t skip, size_t len);

/* First byte at which iov (from skip) differs from buf, or len if equal. */
size_t lun_iov_cmp(const struct iovec *iov, int iovcnt, size_t skip, const void *buf, size_t len);
#endif
