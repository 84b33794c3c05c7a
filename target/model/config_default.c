/* SPDX-License-Identifier: Apache-2.0 */
/* The embedded default configuration of kura-targetd: what the daemon serves
 * when started without -c, and what `kura-targetd --print-default-config`
 * prints as a starting point for a real file.
 *
 * Not for: parsing or validation (config.c reads this text exactly like a
 * file, reporting errors as "<embedded>:LINE"). target/default_config.ini is
 * not kept: this string is the single copy.
 */
#include "target/model/tgt.h"

const char tgt_default_config[] =
	"; kura-targetd default configuration (kura-targetd --print-default-config).\n"
	"; Reference: docs/configuration.md. One demo target, no CHAP, no ACL.\n"
	"\n"
	"[global]\n"
	"data_dir = /var/lib/kura\n"
	"workers = 0\n"
	"nop_interval_ms = 5000\n"
	"nop_timeout_ms = 15000\n"
	"queue_depth = 256\n"
	"; user = kura    ; drop root privileges after binding (empty: no drop)\n"
	"\n"
	"[portal default]\n"
	"address = 0.0.0.0:3260\n"
	"tpgt = 1\n"
	"\n"
	"[target iqn.2026-11.org.kura:demo]\n"
	"alias = kura demo\n"
	"\n"
	"[lun 0]\n"
	"backend = file\n"
	"path = demo.img\n"
	"size = 8G\n"
	"create = yes\n"
	"thin = yes\n"
	"block_size = 512\n";
