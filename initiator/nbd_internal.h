/* SPDX-License-Identifier: Apache-2.0 */
/* NBD wire protocol as spoken by kura-initiatord's NBD front end
 * (NBD protocol, "fixed newstyle" negotiation, simple replies only):
 * constants, pure parsers of what a client sends (option headers, GO/INFO
 * payloads, transmission requests) and builders of what we send. No I/O:
 * unit-tested with hostile input in tests/unit/test_ini_mpath.c.
 *
 * Not for: sockets and threads (nbd_server.c).
 */
#ifndef KURA_NBD_INTERNAL_H
#define KURA_NBD_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NBD_MAGIC                 0x4e42444d41474943ULL /* "NBDMAGIC" */
#define NBD_IHAVEOPT              0x49484156454f5054ULL /* "IHAVEOPT" */
#define NBD_REP_MAGIC             0x0003e889045565a9ULL
#define NBD_REQUEST_MAGIC         0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC    0x67446698u

#define NBD_FLAG_FIXED_NEWSTYLE   1u
#define NBD_FLAG_NO_ZEROES        2u
#define NBD_FLAG_C_FIXED_NEWSTYLE 1u
#define NBD_FLAG_C_NO_ZEROES      2u

enum {
	NBD_OPT_EXPORT_NAME = 1,
	NBD_OPT_ABORT = 2,
	NBD_OPT_LIST = 3,
	NBD_OPT_STARTTLS = 5,
	NBD_OPT_INFO = 6,
	NBD_OPT_GO = 7,
	NBD_OPT_STRUCTURED_REPLY = 8
};
enum { NBD_REP_ACK = 1, NBD_REP_SERVER = 2, NBD_REP_INFO = 3 };
#define NBD_REP_ERR_UNSUP   0x80000001u
#define NBD_REP_ERR_INVALID 0x80000003u
#define NBD_REP_ERR_UNKNOWN 0x80000006u
enum { NBD_INFO_EXPORT = 0, NBD_INFO_NAME = 1, NBD_INFO_DESCRIPTION = 2, NBD_INFO_BLOCK_SIZE = 3 };

/* Transmission flags (per export). */
#define NBD_FLAG_HAS_FLAGS         (1u << 0)
#define NBD_FLAG_SEND_FLUSH        (1u << 2)
#define NBD_FLAG_SEND_FUA          (1u << 3)
#define NBD_FLAG_SEND_TRIM         (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define NBD_FLAG_CAN_MULTI_CONN    (1u << 8)

enum {
	NBD_CMD_READ = 0,
	NBD_CMD_WRITE = 1,
	NBD_CMD_DISC = 2,
	NBD_CMD_FLUSH = 3,
	NBD_CMD_TRIM = 4,
	NBD_CMD_WRITE_ZEROES = 6
};
#define NBD_CMD_FLAG_FUA     (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE (1u << 1)

/* NBD error values (the protocol's own numbering, Linux-like). */
enum {
	NBD_EPERM = 1,
	NBD_EIO = 5,
	NBD_ENOMEM = 12,
	NBD_EINVAL = 22,
	NBD_ENOSPC = 28,
	NBD_EOVERFLOW = 75,
	NBD_ENOTSUP = 95,
	NBD_ESHUTDOWN = 108
};

#define NBD_OPT_MAX_LEN 4096u       /* longer option payloads are refused */
#define NBD_MAX_REQUEST (32u << 20) /* read/write payload limit */

struct nbd_opt_hdr {
	uint32_t option;
	uint32_t len;
};
/* 16 bytes: IHAVEOPT, option, length. 0 or -EINVAL (bad magic / too long). */
int nbd_parse_opt_hdr(const uint8_t *b, size_t len, struct nbd_opt_hdr *out);

struct nbd_go {
	const char *name; /* not NUL-terminated: name_len bytes */
	uint32_t name_len;
	uint16_t n_info;
	bool want_block_size;
};
/* Payload of NBD_OPT_GO / NBD_OPT_INFO. 0 or -EINVAL. */
int nbd_parse_go(const uint8_t *b, size_t len, struct nbd_go *out);

struct nbd_request {
	uint16_t flags, type;
	uint64_t handle, offset;
	uint32_t length;
};
/* 28 bytes. 0 or -EINVAL (bad magic). */
int nbd_parse_request(const uint8_t *b, size_t len, struct nbd_request *out);
/* 0 or the NBD error to answer for a request on an export of size bytes
 * with block size bs. */
uint32_t nbd_check_request(const struct nbd_request *r, uint64_t size, uint32_t bs);

/* Builders; return the number of bytes written into b. */
size_t nbd_put_opt_reply(uint8_t *b, uint32_t option, uint32_t type, uint32_t len);
size_t nbd_put_simple_reply(uint8_t *b, uint32_t error, uint64_t handle);
size_t nbd_put_info_export(uint8_t *b, uint64_t size, uint16_t flags);
size_t nbd_put_info_block_size(uint8_t *b, uint32_t min, uint32_t pref, uint32_t max);
/* -errno of a finished I/O to an NBD error. */
uint32_t nbd_errno(int res);
#endif
