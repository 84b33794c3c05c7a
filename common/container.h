/* SPDX-License-Identifier: Apache-2.0 */
/* container_of: the structure that embeds a member, from a pointer to that
 * member. The one definition every folder uses (kloop tasks, lun_io
 * private areas, list links).
 *
 * Not for: anything but embedded members; the pointer must point into an
 * object of the named type.
 */
#ifndef KURA_CONTAINER_H
#define KURA_CONTAINER_H
#include <stddef.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif
