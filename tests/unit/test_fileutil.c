/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/fileutil.c: a replace round trip (new and existing
 * file), the file mode asked for is the mode on disk, kfile_create refuses
 * an existing file without touching it, and a write into a missing directory
 * fails with -ENOENT and leaves no temporary file behind; kfile_mkdir_p
 * creates missing parents 0755 and the leaf with the mode asked for, accepts
 * existing directories and fails under a regular file.
 */
#include "common/fileutil.c"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

static char g_dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/kura-fileutil-XXXXXX");
	return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	DIR *d = opendir(g_dir);
	struct dirent *de;
	char p[PATH_MAX];
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", g_dir, de->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	return rmdir(g_dir);
}

static void read_back(const char *path, const char *want)
{
	char got[256];
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, got, sizeof(got) - 1);
	close(fd);
	assert_true(n >= 0);
	got[n] = '\0';
	assert_string_equal(got, want);
}

/* Entries in g_dir other than . and .. */
static int entries(void)
{
	DIR *d = opendir(g_dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void test_round_trip(void **state)
{
	(void)state;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/f.conf", g_dir);
	assert_int_equal(kfile_replace(path, "one\n", 4, 0644), 0);
	read_back(path, "one\n");
	assert_int_equal(kfile_replace(path, "second\n", 7, 0644), 0);
	read_back(path, "second\n");
	assert_int_equal(kfile_replace(path, "", 0, 0644), 0);
	read_back(path, "");
	assert_int_equal(entries(), 1); /* no temporary left */
}

static void test_mode_kept(void **state)
{
	(void)state;
	char path[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof(path), "%s/secret", g_dir);
	assert_int_equal(kfile_replace(path, "s", 1, 0600), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(kfile_replace(path, "t", 1, 0640), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
}

static void test_create_excl(void **state)
{
	(void)state;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/name", g_dir);
	assert_int_equal(kfile_create(path, "first", 5, 0600), 0);
	assert_int_equal(kfile_create(path, "other", 5, 0600), -EEXIST);
	read_back(path, "first");
	assert_int_equal(entries(), 1);
}

static void test_missing_dir(void **state)
{
	(void)state;
	char path[PATH_MAX], tmp[PATH_MAX];
	snprintf(path, sizeof(path), "%s/nodir/f", g_dir);
	assert_int_equal(kfile_replace(path, "x", 1, 0600), -ENOENT);
	assert_int_equal(kfile_create(path, "x", 1, 0600), -ENOENT);
	snprintf(path, sizeof(path), "%s/nodir", g_dir);
	assert_int_equal(kfile_write_temp(path, "f", "x", 1, 0600, tmp, sizeof(tmp)), -ENOENT);
	assert_int_equal(entries(), 0);
	/* Installing into a missing directory fails and removes the temporary. */
	assert_int_equal(kfile_write_temp(g_dir, "f", "x", 1, 0600, tmp, sizeof(tmp)), 0);
	assert_int_equal(entries(), 1);
	snprintf(path, sizeof(path), "%s/nodir/f", g_dir);
	assert_int_equal(kfile_install(tmp, path, false), -ENOENT);
	assert_int_equal(entries(), 0);
}

static void rmdirf(const char *fmt, const char *sub)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), fmt, g_dir, sub);
	assert_int_equal(rmdir(p), 0);
}

static void test_mkdir_p(void **state)
{
	(void)state;
	char path[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof(path), "%s/a/b/c", g_dir);
	assert_int_equal(kfile_mkdir_p(path, 0700), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(kfile_mkdir_p(path, 0700), 0); /* exists: fine */
	snprintf(path, sizeof(path), "%s/a/b", g_dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	snprintf(path, sizeof(path), "%s/a/b/c/sock", g_dir);
	assert_int_equal(kfile_mkdir_parent(path), 0);
	assert_int_equal(kfile_mkdir_parent("sock"), 0);
	assert_int_equal(kfile_replace(path, "x", 1, 0600), 0);
	snprintf(path, sizeof(path), "%s/a/b/c/sock/d", g_dir);
	assert_int_equal(kfile_mkdir_p(path, 0755), -ENOTDIR);
	snprintf(path, sizeof(path), "%s/a/b/c/sock", g_dir);
	unlink(path);
	rmdirf("%s/a/b/c%s", "");
	rmdirf("%s/a/b%s", "");
	rmdirf("%s/a%s", "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_excl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
