/* SPDX-License-Identifier: Apache-2.0 */
/* kura-multipath: multipath -ll / multipathd show, fail and reinstate for
 * kura-initiatord's LUs (multipath.h). */
#include "initiator/multipath.h"

int main(int argc, char **argv)
{
	return kura_multipath_main(argc, argv);
}
