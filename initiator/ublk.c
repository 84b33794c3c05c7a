/* SPDX-License-Identifier: Apache-2.0 */
/* ublk front end of kura-initiatord: detection only. The ublk driver
 * (/dev/ublk-control) is absent on the machines this was built on, so the
 * front end logs that and stays off; FUSE + loop and NBD cover the need.
 *
 * Not for: an actual ublk server (left for a kernel that has the driver).
 */
#include "initiator/front_ends.h"
#include "common/log.h"
#include <errno.h>
#include <unistd.h>

int ublk_probe(struct ini_daemon *d)
{
	if (access("/dev/ublk-control", R_OK | W_OK) != 0) {
		kwarn("ublk: /dev/ublk-control not present (no ublk_drv): ublk front end off");
		return -ENODEV;
	}
	kwarn("ublk: /dev/ublk-control present, but the ublk front end is not implemented yet; use FUSE or NBD");
	return -ENOSYS;
}
