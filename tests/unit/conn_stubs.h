/* SPDX-License-Identifier: Apache-2.0 */
/* Stubs shared by the transport tests that #include target/conn*.c
 * (tests/unit/test_conn.c, tests/fuzz/fuzz_conn.c): the parts of the login
 * engine and of the SCSI layer that both replace the same way. Each test
 * still provides iscsi_login_new / iscsi_login_step / iscsi_text_respond,
 * scsi_lun_map_get, scsi_lu_reset and scsi_task_exec, which it steers.
 *
 * Not for: anything a test needs to observe or control.
 */
#ifndef KURA_TEST_CONN_STUBS_H
#define KURA_TEST_CONN_STUBS_H

/* login engine: one request, straight to full feature phase */
struct iscsi_login {
	struct iscsi_session_params p;
	bool done;
};
void iscsi_login_free(struct iscsi_login *l)
{
	free(l);
}
bool iscsi_login_complete(const struct iscsi_login *l)
{
	return l->done;
}
const struct iscsi_session_params *iscsi_login_params(const struct iscsi_login *l)
{
	return &l->p;
}

/* SCSI layer */
uint64_t scsi_decode_lun(const uint8_t f[8])
{
	return f[1];
}
struct scsi_itn *scsi_itn_create(struct scsi_lun_map *m, const char *name, const uint8_t isid[6],
				 const struct scsi_port *port)
{
	return malloc(1);
}
void scsi_itn_destroy(struct scsi_itn *itn)
{
	free(itn);
}
/* LU holds the transport takes (commands, TMFs): every hold must be put. */
static int stub_lu_holds;
struct scsi_lu *scsi_lun_map_hold(struct scsi_lun_map *m, uint64_t lun)
{
	struct scsi_lu *lu = scsi_lun_map_get(m, lun);
	stub_lu_holds += lu != NULL;
	return lu;
}
void scsi_lu_put(struct scsi_lu *lu)
{
	stub_lu_holds -= lu != NULL;
}
void scsi_itn_set_transport(struct scsi_itn *itn, const struct scsi_transport_ops *ops, void *ctx)
{
}
void scsi_target_reset(struct scsi_lun_map *m, struct scsi_itn *from, bool cold) {}
void scsi_itn_commands_cleared(struct scsi_itn *itn, struct scsi_lu *lu) {}

void scsi_task_set_sense(struct scsi_task *t, uint8_t key, uint8_t asc, uint8_t ascq)
{
	memset(t->sense, 0, 18);
	t->sense[0] = 0x70;
	t->sense[2] = key;
	t->sense[7] = 10;
	t->sense[12] = asc;
	t->sense[13] = ascq;
	t->sense_len = 18;
}

void scsi_task_release(struct scsi_task *t)
{
	kbuf_free(t->in_buf);
	t->in_buf = NULL;
}
#endif
