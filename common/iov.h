/* SPDX-License-Identifier: Apache-2.0 */
/* iov: the one iovec walker. Copy, zero and compare a window [skip, skip +
 * len) of an iovec array against a flat buffer, without assembling it. The
 * SCSI layer reads Data-Out through it (scsi_out_copy / scsi_out_cmp), the
 * LUN backends their requests' buffers (lun_mem.c, lun_file.c, raid, thin).
 *
 * Each call returns how far it got in the window: len, or less when the
 * iovec array ends first, or (compares) the offset of the first difference.
 *
 * Not for: I/O (readv / io_uring take the iovec array as it is).
 */
#ifndef KURA_IOV_H
#define KURA_IOV_H
#include <stddef.h>
#include <sys/uio.h>

/* Total bytes described by iov. */
size_t kiov_bytes(const struct iovec *iov, int iovcnt);
/* iov window -> buf / buf -> iov window; bytes copied. */
size_t kiov_to_buf(const struct iovec *iov, int iovcnt, size_t skip, void *buf, size_t len);
size_t kiov_from_buf(const struct iovec *iov, int iovcnt, size_t skip, const void *buf, size_t len);
/* Zero the window; bytes zeroed. */
size_t kiov_zero(const struct iovec *iov, int iovcnt, size_t skip, size_t len);
/* First byte of the window that differs from buf (kiov_cmp) or is not zero
 * (kiov_cmp_zero), or the bytes compared if none does. */
size_t kiov_cmp(const struct iovec *iov, int iovcnt, size_t skip, const void *buf, size_t len);
size_t kiov_cmp_zero(const struct iovec *iov, int iovcnt, size_t skip, size_t len);
#endif
