/* SPDX-License-Identifier: Apache-2.0 */
/* The iovec walker (iov.h): one loop over the pieces of a window of an
 * iovec array, with a small callback per operation (copy out, copy in,
 * zero, compare, compare with zeros).
 *
 * Not for: anything that needs the array assembled or does I/O.
 */
#include "common/iov.h"
#include <stdbool.h>
#include <string.h>

size_t kiov_bytes(const struct iovec *iov, int iovcnt)
{
	size_t n = 0;
	for (int i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	return n;
}

/* Calls fn on each (iov piece, buffer piece) pair of the window [skip, skip+len);
 * stops early and returns the window position if fn returns false. */
static size_t iov_walk(const struct iovec *iov, int iovcnt, size_t skip, size_t len,
		       bool (*fn)(char *seg, char *buf, size_t n, size_t *at), char *buf)
{
	size_t pos = 0;
	for (int i = 0; i < iovcnt && pos < len; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		size_t n = iov[i].iov_len - skip;
		if (n > len - pos)
			n = len - pos;
		size_t at = n;
		if (!fn((char *)iov[i].iov_base + skip, buf ? buf + pos : NULL, n, &at))
			return pos + at;
		pos += n;
		skip = 0;
	}
	return pos;
}

static bool copy_out(char *seg, char *buf, size_t n, size_t *at)
{
	memcpy(buf, seg, n);
	return true;
}
static bool copy_in(char *seg, char *buf, size_t n, size_t *at)
{
	memcpy(seg, buf, n);
	return true;
}

static bool cmp_seg(char *seg, char *buf, size_t n, size_t *at)
{
	if (memcmp(seg, buf, n) == 0)
		return true;
	size_t i = 0;
	while (seg[i] == buf[i])
		i++;
	*at = i;
	return false;
}

static bool zero_seg(char *seg, char *buf, size_t n, size_t *at)
{
	memset(seg, 0, n);
	return true;
}

static bool cmp_zero_seg(char *seg, char *buf, size_t n, size_t *at)
{
	for (size_t i = 0; i < n; i++)
		if (seg[i]) {
			*at = i;
			return false;
		}
	return true;
}

size_t kiov_zero(const struct iovec *iov, int iovcnt, size_t skip, size_t len)
{
	return iov_walk(iov, iovcnt, skip, len, zero_seg, NULL);
}

size_t kiov_cmp_zero(const struct iovec *iov, int iovcnt, size_t skip, size_t len)
{
	return iov_walk(iov, iovcnt, skip, len, cmp_zero_seg, NULL);
}

size_t kiov_to_buf(const struct iovec *iov, int iovcnt, size_t skip, void *buf, size_t len)
{
	return iov_walk(iov, iovcnt, skip, len, copy_out, buf);
}

size_t kiov_from_buf(const struct iovec *iov, int iovcnt, size_t skip, const void *buf, size_t len)
{
	return iov_walk(iov, iovcnt, skip, len, copy_in, (char *)buf);
}

size_t kiov_cmp(const struct iovec *iov, int iovcnt, size_t skip, const void *buf, size_t len)
{
	return iov_walk(iov, iovcnt, skip, len, cmp_seg, (char *)buf);
}
