/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the iSCSI PDU codec (target/iscsi/iscsi_pdu.c): arbitrary
 * bytes are cut into 48-byte headers (plus what follows as AHS), decoded by
 * the common decoder and by every per-opcode decoder, the AHS list is parsed,
 * and the decoded values are re-encoded where an encoder exists, so
 * ASan/UBSan see every path over hostile input.
 *
 * Not for: the connection state machine (fuzz_conn.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "target/iscsi/iscsi_pdu.c"

static volatile uint32_t sink;

static void decode_all(const uint8_t *b)
{
	struct iscsi_scsi_cmd c;
	struct iscsi_data_out d;
	struct iscsi_nop_out n;
	struct iscsi_tmf_req t;
	struct iscsi_login_req_hdr l;
	struct iscsi_text_req x;
	struct iscsi_logout_req o;
	struct iscsi_snack s;
	sink += iscsi_decode_scsi_cmd(b, &c) + c.edtl;
	sink += iscsi_decode_data_out(b, &d) + d.offset;
	sink += iscsi_decode_nop_out(b, &n) + n.ttt;
	sink += iscsi_decode_tmf_req(b, &t) + t.ref_itt;
	sink += iscsi_decode_login_req(b, &l) + l.tsih;
	sink += iscsi_decode_text_req(b, &x) + x.ttt;
	sink += iscsi_decode_logout_req(b, &o) + o.cid;
	sink += iscsi_decode_snack(b, &s) + s.runlength;
}

static void reencode(const uint8_t *b)
{
	uint8_t out[ISCSI_BHS_LEN];
	struct iscsi_seq q = { get_be32(b + 24), get_be32(b + 28), get_be32(b + 32) };
	struct iscsi_data_in di = { .final = b[1] & 1,
				    .has_status = b[1] & 2,
				    .flags = b[2],
				    .status = b[3],
				    .itt = get_be32(b + 16),
				    .dsl = get_be24(b + 5) };
	iscsi_encode_data_in(out, &di, &q);
	struct iscsi_scsi_rsp r = { .itt = di.itt, .flags = b[2], .status = b[3], .dsl = di.dsl };
	iscsi_encode_scsi_rsp(out, &r, &q);
	struct iscsi_login_rsp_hdr lr = { .transit = b[1] & 0x80,
					  .csg = b[1] >> 2,
					  .nsg = b[1],
					  .status = get_be16(b + 36) };
	iscsi_encode_login_rsp(out, &lr, &q);
	iscsi_encode_reject(out, b[2], 0, &q);
	sink += out[1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the first byte picks the digest setting and a MaxRecvDataSegmentLength */
	if (size < 1)
		return 0;
	bool digests = data[0] & 1;
	uint32_t max_dsl = 512u << (data[0] >> 4);
	data++;
	size--;
	while (size > 0) {
		struct iscsi_bhs h;
		enum iscsi_pdu_err e = iscsi_bhs_decode(data, size, max_dsl, &h);
		if (e == ISCSI_PDU_TRUNCATED)
			break;
		sink += (uint32_t)iscsi_pdu_rest_len(&h, digests, digests);
		sink += iscsi_pdu_err_reject_reason(e);
		decode_all(data);
		reencode(data);
		size_t ahs = h.ahs_len <= size - ISCSI_BHS_LEN ? h.ahs_len : size - ISCSI_BHS_LEN;
		struct iscsi_ahs a;
		if (iscsi_ahs_parse(data + ISCSI_BHS_LEN, ahs, &a) == ISCSI_PDU_OK && a.ext_cdb)
			sink += a.ext_cdb[a.ext_cdb_len - 1];
		sink += iscsi_crc32c(data, ISCSI_BHS_LEN + ahs);
		size_t step = ISCSI_BHS_LEN + ahs;
		data += step;
		size -= step;
	}
	return 0;
}
