/* SPDX-License-Identifier: Apache-2.0 */
/* The live model's ALUA side (model.h): the portals' port groups registered
 * with the SCSI layer's ALUA table, the hook that raises 2A/06 ASYMMETRIC
 * ACCESS STATE CHANGED on every LU when a state changes, and the state change
 * the admin socket asks for. A file apart so that the configuration's unit
 * tests need not bring the ALUA commands in.
 *
 * Not for: the ALUA table and REPORT / SET TARGET PORT GROUPS (scsi_alua.c).
 */
#include "target/model/model.h"
#include "target/scsi/scsi_alua.h"

static void raise_all(void *arg, const struct scsi_itn *except)
{
	struct tgt_config *cfg = arg;
	for (int i = 0; i < cfg->n_targets; i++)
		for (unsigned l = 0; cfg->targets[i].map && l < SCSI_MAX_LUNS; l++) {
			struct scsi_lu *lu = scsi_lun_map_get(cfg->targets[i].map, l);
			if (lu)
				scsi_alua_raise_changed(lu, except);
		}
}

int tgt_model_alua_setup(struct tgt_config *cfg)
{
	scsi_alua_reset();
	for (int i = 0; i < cfg->n_portals; i++) {
		int r = scsi_alua_add_port(cfg->portals[i].tpg_id, cfg->portals[i].rel_port_id);
		if (r < 0)
			return r;
	}
	scsi_alua_set_change_hook(raise_all, cfg);
	return 0;
}

int tgt_model_set_alua(uint16_t group, int state)
{
	return scsi_alua_set_state(group, state);
}
