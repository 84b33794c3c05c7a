/* SPDX-License-Identifier: Apache-2.0 */
/* kura-mpathpersist: mpathpersist(8) for the LUs of kura-initiatord (see
 * docs/initiator.md, "Persistent reservations"). All logic is in
 * initiator/mpathpersist*.c; this is only the process entry point. */
#include "initiator/mpathpersist.h"

int main(int argc, char **argv)
{
	int rc = mpp_main(argc, argv, stdout, stderr);
	fflush(stdout);
	return rc;
}
