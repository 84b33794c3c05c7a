/* SPDX-License-Identifier: Apache-2.0 */
/* Unit test of kura-console's per-LUN history (console/history.c): the
 * exposition lines it reads, the rates between two scrapes, counter resets
 * (the target restarted: a gap, never a negative or huge rate), the ring of
 * one hour, forgotten LUNs, the LUN limit and the JSON it serves.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "../../console/history.c"

#define T0 1780000000000LL /* a wall clock in ms */

/* An exposition with one LUN's read and write counters. */
static char *scrape(const char *target, const char *lun, double rd, double wr, double bytes,
		    double lat_sum)
{
	char *t = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&t, &n);
	fprintf(f, "# HELP kura_lun_commands_total x\n# TYPE kura_lun_commands_total counter\n");
	fprintf(f, "kura_lun_commands_total{target=\"%s\",lun=\"%s\",op=\"read\"} %.0f\n", target,
		lun, rd);
	fprintf(f, "kura_lun_commands_total{target=\"%s\",lun=\"%s\",op=\"write\"} %.0f\n", target,
		lun, wr);
	fprintf(f, "kura_lun_commands_total{target=\"%s\",lun=\"%s\",op=\"other\"} 999999\n",
		target, lun);
	fprintf(f, "kura_lun_bytes_total{target=\"%s\",lun=\"%s\",op=\"read\"} %.0f\n", target, lun,
		bytes);
	fprintf(f,
		"kura_lun_command_duration_seconds_bucket{target=\"%s\",lun=\"%s\",op=\"read\","
		"le=\"+Inf\"} %.0f\n",
		target, lun, rd);
	fprintf(f,
		"kura_lun_command_duration_seconds_sum{target=\"%s\",lun=\"%s\",op=\"read\"} %g\n",
		target, lun, lat_sum);
	fprintf(f,
		"kura_lun_command_duration_seconds_count{target=\"%s\",lun=\"%s\",op=\"read\"} %.0f\n",
		target, lun, rd + wr);
	fprintf(f, "kura_lun_size_bytes{target=\"%s\",lun=\"%s\"} 1048576\n", target, lun);
	fclose(f);
	return t;
}

static void feed(struct hist *h, int64_t sec, double rd, double wr, double bytes, double lat)
{
	char *t = scrape("iqn.x:a", "0", rd, wr, bytes, lat);
	assert_int_equal(hist_sample(h, t, T0 + sec * 1000, sec * 1000), 0);
	free(t);
}

/* The JSON at sec (the caller frees it). */
static char *json(const struct hist *h, int64_t sec, uint32_t since)
{
	static char *t;
	static size_t n;
	FILE *f = open_memstream(&t, &n);
	hist_json(h, f, T0 + sec * 1000, since);
	fclose(f);
	return t;
}

static void test_parse(void **state)
{
	(void)state;
	struct hist_sample_line s;
	assert_int_equal(
		hist_parse_line(
			"kura_lun_bytes_total{target=\"a\\\"b\",lun=\"3\",op=\"write\"} 4096", &s),
		0);
	assert_int_equal(s.family, 1);
	assert_string_equal(s.target, "a\"b");
	assert_string_equal(s.lun, "3");
	assert_true(s.value == 4096);
	assert_int_equal(
		hist_parse_line("kura_lun_commands_total{target=\"a\",lun=\"0\",op=\"other\"} 1",
				&s),
		-ENOENT);
	assert_int_equal(hist_parse_line("kura_lun_size_bytes{target=\"a\",lun=\"0\"} 1", &s),
			 -ENOENT);
	assert_int_equal(hist_parse_line("# TYPE kura_lun_bytes_total counter", &s), -ENOENT);
	assert_int_equal(
		hist_parse_line("kura_lun_bytes_total{target=\"a\",lun=\"0\",op=\"read\"} x", &s),
		-EINVAL);
	assert_int_equal(hist_parse_line("kura_lun_bytes_total{target=\"a\",op=\"read\"} 1", &s),
			 -EINVAL);
	assert_int_equal(hist_parse_line("kura_lun_bytes_total{target=\"a", &s), -EINVAL);
	char big[600];
	memset(big, 'x', sizeof(big));
	snprintf(big, sizeof(big),
		 "kura_lun_bytes_total{target=\"%0500d\",lun=\"1\",op=\"read\"} 2", 7);
	assert_int_equal(hist_parse_line(big, &s), 0); /* cut to HIST_NAME_MAX - 1 */
	assert_int_equal(strlen(s.target), HIST_NAME_MAX - 1);
}

static void test_rate(void **state)
{
	(void)state;
	struct hist_counters a = { 100, 4096 * 100, 0.5, 100 }, b = { 600, 4096 * 600, 1.5, 600 };
	struct hist_point p;
	assert_true(hist_rate(&a, 1000, &b, 6000, &p));
	assert_true(fabsf(p.iops - 100) < 1e-3);
	assert_true(fabsf(p.mibs - 100 * 4096 / 1048576.0f) < 1e-4);
	assert_true(fabsf(p.lat_ms - 2.0f) < 1e-4);      /* 1 s over 500 commands */
	assert_false(hist_rate(&a, 6000, &b, 6000, &p)); /* no time passed */
	struct hist_counters c = b;
	assert_true(hist_rate(&b, 0, &c, 5000, &p)); /* idle: 0 IOPS, no latency */
	assert_true(p.iops == 0 && isnan(p.lat_ms));
	/* the target restarted: every counter from zero, or only one went down */
	struct hist_counters z = { 3, 3 * 4096, 0.001, 3 };
	assert_false(hist_rate(&b, 0, &z, 5000, &p));
	c.lat_count -= 1;
	assert_false(hist_rate(&b, 0, &c, 5000, &p));
}

static void test_reset_is_a_gap(void **state)
{
	(void)state;
	struct hist *h = hist_new(5);
	feed(h, 0, 1000, 0, 1000 * 4096, 1.0);
	feed(h, 5, 1500, 500, 2000 * 4096, 2.0); /* +1000 commands in 5 s */
	feed(h, 10, 10, 0, 10 * 4096, 0.01);     /* restart: new baseline */
	feed(h, 15, 510, 0, 510 * 4096, 0.51);   /* +500 after the restart */
	char *j = json(h, 15, 0);
	assert_non_null(strstr(j, "\"t\":[1780000005,1780000015]"));
	assert_non_null(strstr(j, "\"iops\":[200,100]"));
	assert_non_null(strstr(j, "\"target\":\"iqn.x:a\",\"lun\":\"0\""));
	free(j);
	hist_gap(h); /* the daemon did not answer at 20 s */
	feed(h, 25, 1010, 0, 1010 * 4096, 1.0);
	feed(h, 30, 1510, 0, 1510 * 4096, 1.5);
	j = json(h, 30, 1780000015);
	assert_non_null(strstr(j, "\"t\":[1780000030]"));
	assert_non_null(strstr(j, "\"lat_ms\":[1]"));
	free(j);
	hist_free(h);
}

static void test_hour_ring(void **state)
{
	(void)state;
	struct hist *h = hist_new(60); /* 61 points */
	for (int i = 0; i <= 200; i++)
		feed(h, i * 60, 5, 0, 0, 0); /* idle: 0 IOPS, no latency */
	assert_int_equal(h->n, 1);
	assert_int_equal(h->lun[0]->n, h->cap);
	char *j = json(h, 200 * 60, 0);
	/* the last hour only, oldest first: 61 points, (200 - 60) * 60 excluded */
	char first[64];
	snprintf(first, sizeof(first), "\"t\":[%lld,", (long long)(T0 / 1000 + 141 * 60));
	assert_non_null(strstr(j, first));
	int commas = 0;
	for (const char *p = strstr(j, "\"t\":["); *p != ']'; p++)
		commas += *p == ',';
	assert_int_equal(commas, 59);
	assert_non_null(strstr(j, "\"lat_ms\":[null,"));
	free(j);
	hist_free(h);
}

static void test_forget_and_limit(void **state)
{
	(void)state;
	struct hist *h = hist_new(5);
	feed(h, 0, 1, 0, 0, 0);
	char *t = scrape("iqn.x:b", "1", 1, 0, 0, 0);
	assert_int_equal(hist_sample(h, t, T0 + 5000, 5000), 0);
	assert_int_equal(h->n, 2);
	assert_false(h->lun[0]->have_last); /* LUN a left the scrape: no baseline */
	assert_int_equal(hist_sample(h, t, T0 + 3606000, 3606000), 0);
	assert_int_equal(h->n, 1); /* a forgotten after an hour */
	assert_string_equal(h->lun[0]->target, "iqn.x:b");
	free(t);
	char *many = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&many, &n);
	for (int i = 0; i < HIST_LUNS + 10; i++)
		fprintf(f, "kura_lun_commands_total{target=\"t\",lun=\"%d\",op=\"read\"} 1\n", i);
	fclose(f);
	assert_int_equal(hist_sample(h, many, T0 + 3611000, 3611000), -ENOSPC);
	assert_int_equal(h->n, HIST_LUNS);
	free(many);
	hist_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_reset_is_a_gap),
		cmocka_unit_test(test_hour_ring),
		cmocka_unit_test(test_forget_and_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
