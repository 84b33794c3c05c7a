/* SPDX-License-Identifier: Apache-2.0 */
/* kura-iscsiadm: open-iscsi compatible iscsiadm for kura's initiator (see
 * docs/initiator.md, "iscsiadm compatibility"). All logic is in
 * initiator/iscsiadm*.c; this is only the process entry point. */
#include "initiator/iscsiadm.h"

int main(int argc, char **argv)
{
	int rc = adm_main(argc, argv, stdout, stderr);
	fflush(stdout);
	return rc;
}
