/* SPDX-License-Identifier: Apache-2.0 */
/* The live model's ALUA side (model.h): the portals' port groups registered
 * with the SCSI layer's ALUA table, the hook that raises 2A/06 ASYMMETRIC
 * ACCESS STATE CHANGED on every LU when a state changes, and the state change
 * the admin socket asks for. With gateway_id, every gateway's group is
 * registered (each gateway answers REPORT TARGET PORT GROUPS alike). A file apart so that the configuration's unit
 * tests need not bring the ALUA commands in.
 *
 * Not for: the ALUA table and REPORT / SET TARGET PORT GROUPS (scsi_alua.c).
 */
#include "target/model/model.h"
#include "target/scsi/scsi_alua.h"

static void raise_all(void *arg, const struct scsi_itn *except)
{
	struct tgt_model *m = arg;
	for (int i = 0; i < m->n_targets; i++)
		for (unsigned l = 0; m->targets[i].map && l < SCSI_MAX_LUNS; l++) {
			struct scsi_lu *lu = scsi_lun_map_get(m->targets[i].map, l);
			if (lu)
				scsi_alua_raise_changed(lu, except);
		}
}

/* Gateways (gateway_id): every gateway's group with the ports it has by
 * the numbering of config.c (as many portals as this one), so that REPORT
 * TARGET PORT GROUPS is the same whichever gateway answers. */
static int add_gateways(const struct tgt_config *c)
{
	for (uint16_t g = 1; g <= c->gateways; g++)
		for (int i = 0; i < c->n_portals; i++) {
			uint16_t rel = (uint16_t)((g - 1) * TGT_GATEWAY_PORTS + i + 1);
			int r = scsi_alua_add_port(g, rel);
			if (r < 0)
				return r;
		}
	return 0;
}

static int add_portals(const struct tgt_config *c)
{
	for (int i = 0; i < c->n_portals; i++) {
		int r = scsi_alua_add_port(c->portals[i].tpg_id, c->portals[i].rel_port_id);
		if (r < 0)
			return r;
	}
	return 0;
}

int tgt_model_alua_setup(struct tgt_model *m)
{
	scsi_alua_reset();
	int r = m->conf->gateway_id ? add_gateways(m->conf) : add_portals(m->conf);
	if (r < 0)
		return r;
	scsi_alua_set_change_hook(raise_all, m);
	return 0;
}

int tgt_model_set_alua(uint16_t group, int state)
{
	return scsi_alua_set_state(group, state);
}
