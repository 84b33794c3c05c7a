/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the initiator's node database records
 * (initiator/nodedb.c: open-iscsi's "# BEGIN RECORD" / "key = value" format,
 * as read from /etc/iscsi by kura-iscsiadm and kura-initiatord).
 *
 * Input: the bytes of one record file. Asserts: nodedb_parse either refuses
 * (no record, an error line within the input) or returns a record whose
 * keys and values are valid; formatting it and parsing the text again gives
 * the same keys and values in the same order (but those with an empty value,
 * which the format leaves out), and formatting that gives the
 * same text (a record survives a rewrite unchanged); every known field's
 * check runs on the values it would validate.
 */
#include "initiator/nodedb.c"
#include "initiator/nodedb_fields.c"

static void check_fields(const struct nodedb_rec *r)
{
	static const enum nodedb_kind kinds[] = { NODEDB_NODE, NODEDB_ST, NODEDB_IFACE };
	for (int i = 0; i < nodedb_count(r); i++) {
		const char *k = nodedb_key_at(r, i), *v = nodedb_get(r, k);
		if (!k || !v || !nodedb_key_valid(k) || !nodedb_value_valid(v))
			abort();
		for (size_t j = 0; j < sizeof(kinds) / sizeof(kinds[0]); j++) {
			const struct nodedb_field *f = nodedb_field_find(kinds[j], k);
			if (f)
				(void)nodedb_field_check(f, v);
		}
	}
}

/* b is a re-read of a's text: a's keys in order, but those with an empty
 * value, which nodedb_format leaves out (as open-iscsi does). */
static void same(const struct nodedb_rec *a, const struct nodedb_rec *b)
{
	int j = 0;
	for (int i = 0; i < nodedb_count(a); i++) {
		const char *k = nodedb_key_at(a, i);
		if (!nodedb_get(a, k)[0])
			continue;
		if (j >= nodedb_count(b) || strcmp(k, nodedb_key_at(b, j)) ||
		    strcmp(nodedb_get(a, k), nodedb_get(b, k)))
			abort();
		j++;
	}
	if (j != nodedb_count(b))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nodedb_rec *r = NULL, *r2 = NULL;
	int line = 0;
	if (nodedb_parse((const char *)data, size, &r, &line) != 0) {
		if (r || line < 0)
			abort();
		return 0;
	}
	check_fields(r);
	char *text = nodedb_format(r);
	if (!text || nodedb_parse(text, strlen(text), &r2, &line) != 0)
		abort();
	same(r, r2);
	char *text2 = nodedb_format(r2);
	if (!text2 || strcmp(text, text2))
		abort();
	free(text);
	free(text2);
	nodedb_rec_free(r);
	nodedb_rec_free(r2);
	return 0;
}
