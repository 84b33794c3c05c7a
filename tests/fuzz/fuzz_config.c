/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for kura-targetd's configuration parser
 * (target/model/config.c, config_sections.c and the backend registry's keys
 * and sections, lun-backends/lun_registry.c), through the same entry point
 * the daemon and --check-config use: tgt_config_load() of a file. The input
 * is written to a memfd and loaded through /proc/self/fd/N, so NUL bytes,
 * over-long lines and missing line ends reach the parser as from disk.
 *
 * Asserts: the parser returns 0 (and the configuration is freed) or a
 * negative errno with a non-empty, NUL-terminated reason; never a crash,
 * leak or read past the input (ASan).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "common/log.h"
#include "target/model/tgt.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fd < 0) {
		klog_set_level(KLOG_ERR);
		fd = memfd_create("kura-fuzz-config", 0);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	struct tgt_config cfg;
	char err[1024];
	memset(err, 0x55, sizeof(err));
	int r = tgt_config_load(path, &cfg, err, sizeof(err));
	if (r == 0) {
		tgt_config_free(&cfg);
		return 0;
	}
	if (r > 0 || !memchr(err, 0, sizeof(err)) || !err[0])
		abort();
	return 0;
}
