/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside target/admin/ only: the `metrics` request (admin_metrics.c
 * for the LUN, session, portal and process families, admin_metrics_storage.c
 * for pools and arrays) and the Prometheus text helpers both use.
 *
 * Not for: anything outside the folder (kura-console reads the exposition
 * over the admin socket; docs/console.md lists every family).
 */
#ifndef KURA_ADMIN_METRICS_H
#define KURA_ADMIN_METRICS_H
#include <stdio.h>
#include "target/admin/admin_internal.h"

/* metrics: the Prometheus text exposition (version 0.0.4) of every family,
 * then the status line. */
int admin_metrics(struct tgt_model *m, struct tgt_server *srv, const struct admin_cmd *c, FILE *f,
		  const char **why);
/* The pool and array families (storage control thread requests). */
void admin_metrics_storage(struct tgt_model *m, FILE *f);

/* "# HELP name help\n# TYPE name type\n" */
void prom_family(FILE *f, const char *name, const char *type, const char *help);
/* A label value with \\, \" and \n escaped (the exposition format's rule),
 * and bytes outside printable ASCII written as \xHH text. */
void prom_value(FILE *f, const char *s);
#endif
