/* SPDX-License-Identifier: Apache-2.0 */
/* NBD protocol parsers and builders (see nbd_internal.h). Pure: bytes in,
 * decoded struct or error out; every length is checked before it is used.
 *
 * Not for: sockets (nbd_server.c).
 */
#include "initiator/nbd_internal.h"
#include <errno.h>
#include <string.h>

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}
static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}
static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

int nbd_parse_opt_hdr(const uint8_t *b, size_t len, struct nbd_opt_hdr *out)
{
	if (len < 16 || get64(b) != NBD_IHAVEOPT)
		return -EINVAL;
	out->option = get32(b + 8);
	out->len = get32(b + 12);
	return out->len > NBD_OPT_MAX_LEN ? -EINVAL : 0;
}

/* u32 name length, name, u16 number of info requests, u16 each. */
int nbd_parse_go(const uint8_t *b, size_t len, struct nbd_go *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 6)
		return -EINVAL;
	uint32_t nl = get32(b);
	if (nl > len - 6)
		return -EINVAL;
	out->name = (const char *)b + 4;
	out->name_len = nl;
	out->n_info = get16(b + 4 + nl);
	if ((size_t)out->n_info * 2 != len - 6 - nl)
		return -EINVAL;
	for (uint16_t i = 0; i < out->n_info; i++)
		if (get16(b + 6 + nl + 2 * i) == NBD_INFO_BLOCK_SIZE)
			out->want_block_size = true;
	return 0;
}

int nbd_parse_request(const uint8_t *b, size_t len, struct nbd_request *out)
{
	if (len < 28 || get32(b) != NBD_REQUEST_MAGIC)
		return -EINVAL;
	out->flags = get16(b + 4);
	out->type = get16(b + 6);
	out->handle = get64(b + 8);
	out->offset = get64(b + 16);
	out->length = get32(b + 24);
	return 0;
}

static bool known_type(uint16_t t)
{
	return t == NBD_CMD_READ || t == NBD_CMD_WRITE || t == NBD_CMD_DISC || t == NBD_CMD_FLUSH ||
	       t == NBD_CMD_TRIM || t == NBD_CMD_WRITE_ZEROES;
}

uint32_t nbd_check_request(const struct nbd_request *r, uint64_t size, uint32_t bs)
{
	if (!known_type(r->type) || (r->flags & ~(NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE)))
		return NBD_EINVAL;
	if (r->type == NBD_CMD_DISC || r->type == NBD_CMD_FLUSH)
		return 0;
	if ((r->type == NBD_CMD_READ || r->type == NBD_CMD_WRITE) && r->length > NBD_MAX_REQUEST)
		return NBD_EOVERFLOW;
	if (r->offset > size || r->length > size - r->offset) /* overflow-safe */
		return NBD_ENOSPC;
	if (!bs || r->offset % bs || r->length % bs)
		return NBD_EINVAL;
	return 0;
}

size_t nbd_put_opt_reply(uint8_t *b, uint32_t option, uint32_t type, uint32_t len)
{
	put64(b, NBD_REP_MAGIC);
	put32(b + 8, option);
	put32(b + 12, type);
	put32(b + 16, len);
	return 20;
}

size_t nbd_put_simple_reply(uint8_t *b, uint32_t error, uint64_t handle)
{
	put32(b, NBD_SIMPLE_REPLY_MAGIC);
	put32(b + 4, error);
	put64(b + 8, handle);
	return 16;
}

size_t nbd_put_info_export(uint8_t *b, uint64_t size, uint16_t flags)
{
	put16(b, NBD_INFO_EXPORT);
	put64(b + 2, size);
	put16(b + 10, flags);
	return 12;
}

size_t nbd_put_info_block_size(uint8_t *b, uint32_t min, uint32_t pref, uint32_t max)
{
	put16(b, NBD_INFO_BLOCK_SIZE);
	put32(b + 2, min);
	put32(b + 6, pref);
	put32(b + 10, max);
	return 14;
}

uint32_t nbd_errno(int res)
{
	switch (res) {
	case 0: return 0;
	case -EINVAL: return NBD_EINVAL;
	case -ENOSPC: return NBD_ENOSPC;
	case -ENOMEM: return NBD_ENOMEM;
	case -EROFS:
	case -EPERM:
	case -EBADE: return NBD_EPERM;
	case -EOPNOTSUPP: return NBD_ENOTSUP;
	default: return NBD_EIO;
	}
}
