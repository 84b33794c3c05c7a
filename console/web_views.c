/* SPDX-License-Identifier: Apache-2.0 */
/* Two API answers of kura-console that are not one relayed admin request:
 *
 *   GET /api/history[?since=T]  the per-LUN history of the last hour kept by
 *                               the sampler (history.h), points newer than
 *                               T (Unix seconds) only when T is given
 *   GET /api/cluster            for each --lockd-socket, kura-lockd's
 *                               "status --json" (its view of the hosts and
 *                               the VM leases), or why it did not answer
 *
 * A kura-lockd answer is passed on as a JSON string (the page parses it):
 * the console never splices another daemon's text into its own JSON.
 *
 * Not for: sessions (checked before this runs) or the lock manager's logic
 * (the console only reads its control socket; it does not link it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/json.h"
#include "console/history.h"
#include "console/web.h"

#define LOCKD_TIMEOUT_S 5

/* Close f (an open_memstream on *buf, *n) and send what it holds. */
static enum MHD_Result send_json_stream(struct MHD_Connection *c, FILE *f, char **buf, size_t *n)
{
	fclose(f);
	enum MHD_Result r = web_send(c, MHD_HTTP_OK, "application/json", *buf, *n, NULL, NULL);
	free(*buf);
	return r;
}

enum MHD_Result web_history(struct MHD_Connection *c, struct hist_sampler *hs)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
	char *end = NULL;
	unsigned long since = v ? strtoul(v, &end, 10) : 0;
	if (v && (!*v || *end || since > UINT32_MAX))
		return web_error(c, MHD_HTTP_BAD_REQUEST, "since=UNIX_SECONDS wanted");
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return MHD_NO;
	hist_sampler_json(hs, f, (uint32_t)since);
	return send_json_stream(c, f, &buf, &n);
}

static void one_lockd(FILE *f, const char *path)
{
	char *out;
	bool ok;
	int r = console_request(path, "status --json", LOCKD_TIMEOUT_S, &out, &ok);
	fputs("{\"socket\":", f);
	kjson_str(f, path);
	if (r < 0)
		fputs(",\"ok\":false,\"error\":\"kura-lockd does not answer\"}", f);
	else {
		fprintf(f, ",\"ok\":%s,\"%s\":", ok ? "true" : "false", ok ? "status" : "error");
		kjson_str(f, out);
		fputc('}', f);
	}
	free(out);
}

enum MHD_Result web_cluster(struct MHD_Connection *c, const struct console_cfg *cfg)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return MHD_NO;
	fputc('[', f);
	for (int i = 0; i < cfg->n_lockd; i++) {
		if (i)
			fputc(',', f);
		one_lockd(f, cfg->lockd[i]);
	}
	fputs("]\n", f);
	return send_json_stream(c, f, &buf, &n);
}
