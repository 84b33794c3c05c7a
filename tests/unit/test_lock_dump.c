/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of `kura-lockctl dump` output (cluster-lock/lockctl_disk.c) on a
 * hand-built image of the HA LUN: the JSON keys other tools and tests read
 * (cluster, hosts[], leases[], keys[]), corrupt records shown as such and
 * never as free, free records left out, names with quotes and control bytes
 * escaped; the text form names the same things.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "cluster-lock/lockctl_disk.c"

static struct lock_image img;

static void build(void)
{
	memset(&img, 0, sizeof(img));
	snprintf(img.hdr.cluster, sizeof(img.hdr.cluster), "lab");
	img.hdr.tag = 0xBEEF;
	img.hdr.layout_version = 1;
	img.hdr.block_size = 4096;
	img.hdr.max_hosts = LOCK_MAX_HOSTS;
	img.hdr.max_leases = LOCK_MAX_LEASES;
	for (uint16_t id = 1; id <= LOCK_MAX_HOSTS; id++)
		lock_slot_free(&img.slot[id], id);
	img.slot[1] = (struct lock_slot){ .host_id = 1,
					  .state = LOCK_SLOT_JOINED,
					  .incarnation = 3,
					  .counter = 77 };
	snprintf(img.slot[1].host_name, LOCK_NAME_MAX, "hv\"1\n");
	img.slot[2] = (struct lock_slot){ .host_id = 2,
					  .state = LOCK_SLOT_FENCED,
					  .incarnation = 5,
					  .fenced_by = 1,
					  .fence_epoch = 2 };
	img.slot_status[3] = LOCK_REC_CORRUPT;
	snprintf(img.lease[0].vm, LOCK_NAME_MAX, "web1");
	img.lease[0].owner = 1;
	img.lease[0].owner_incarnation = 3;
	img.lease[0].lver = 9;
	img.lease[0].mig_src = 1;
	img.lease[0].mig_dst = 2;
	img.lease[0].mig_phase = LOCK_MIG_ACTIVE;
	img.lease_status[7] = LOCK_REC_CORRUPT;
}

static char *render(bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	uint64_t keys[2] = { 0xBEEF000100000003ull, 0xBEEF000100000003ull };
	if (json)
		dump_json(&img, keys, 2, f);
	else
		dump_text(&img, keys, 2, f);
	fclose(f);
	return buf;
}

static void has(const char *s, const char *sub)
{
	if (!strstr(s, sub))
		fail_msg("missing %s in %s", sub, s);
}

/* Brackets balance outside strings; no raw control byte inside one. */
static void json_shape(const char *s)
{
	int depth = 0;
	bool in = false;
	for (const char *p = s; *p; p++) {
		if (in && *p == '\\') {
			p++;
			continue;
		}
		if (*p == '"')
			in = !in;
		else if (in)
			assert_true((unsigned char)*p >= 0x20);
		else if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			depth--;
		assert_true(depth >= 0);
	}
	assert_false(in);
	assert_int_equal(depth, 0);
}

static void test_json(void **state)
{
	build();
	char *s = render(true);
	json_shape(s);
	has(s, "\"cluster\": {\"name\": \"lab\"");
	has(s, "\"tag\": 48879");
	has(s,
	    "{\"id\": 1, \"status\": \"ok\", \"name\": \"hv\\\"1\\u000a\", \"state\": \"joined\", "
	    "\"incarnation\": 3, \"counter\": 77");
	has(s, "\"state\": \"fenced\", \"incarnation\": 5");
	has(s, "\"fenced_by\": 1, \"fence_epoch\": 2");
	has(s, "{\"id\": 3, \"status\": \"corrupt\"}");
	assert_null(strstr(s, "\"id\": 4,")); /* free slots left out */
	has(s,
	    "{\"index\": 0, \"status\": \"ok\", \"vm\": \"web1\", \"owner\": 1, "
	    "\"owner_incarnation\": 3, \"lver\": 9, "
	    "\"migration\": {\"src\": 1, \"dst\": 2, \"phase\": \"active\"}");
	has(s, "{\"index\": 7, \"status\": \"corrupt\"}");
	assert_null(strstr(s, "\"index\": 1,"));
	has(s, "\"keys\": [\"beef000100000003\", \"beef000100000003\"]");
	free(s);
}

static void test_text(void **state)
{
	build();
	char *s = render(false);
	has(s, "cluster lab uuid ");
	has(s, "host 1 hv\"1\n: joined incarnation 3 counter 77");
	has(s, "host 2 -: fenced incarnation 5");
	has(s, "fenced_by 1");
	has(s, "host 3: CORRUPT");
	has(s, "lease 0 web1: owner 1 incarnation 3 lver 9 migration active 1->2");
	has(s, "lease 7: CORRUPT");
	has(s, "registered keys: beef000100000003 (host 1 incarnation 3)");
	assert_null(strstr(s, "host 4"));
	free(s);
}

static void test_exit_codes(void **state)
{
	assert_int_equal(exit_code(0), 0);
	assert_int_equal(exit_code(LOCK_E_UNREACHABLE), 4);
	assert_int_equal(exit_code(-ETIMEDOUT), 4);
	assert_int_equal(exit_code(LOCK_E_FOREIGN), 1);
	assert_int_equal(exit_code(LOCK_E_CORRUPT), 1);
	assert_int_equal(exit_code(LOCK_E_UNFORMATTED), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_exit_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
