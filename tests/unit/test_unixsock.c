/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/unixsock.c: a listening socket is mode 0600 and
 * replaces a stale file of the same name, a client connects and its peer
 * (ourselves) is allowed, a path longer than sun_path is -ENAMETOOLONG, and
 * connecting to a missing socket fails with -ENOENT.
 */
#include "common/unixsock.c"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

static char g_dir[64], g_path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/kura-unixsock-XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	snprintf(g_path, sizeof(g_path), "%s/s", g_dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(g_path);
	return rmdir(g_dir);
}

static void test_listen_connect(void **state)
{
	(void)state;
	int stale = open(g_path, O_CREAT | O_WRONLY, 0644);
	assert_true(stale >= 0);
	close(stale);
	int lfd = kunix_listen(g_path, 4, true);
	assert_true(lfd >= 0);
	struct stat st;
	assert_int_equal(stat(g_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	int cfd = kunix_connect(g_path);
	assert_true(cfd >= 0);
	int afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	assert_true(kunix_peer_allowed(afd));
	assert_true(kunix_peer_allowed(cfd));
	close(afd);
	close(cfd);
	close(lfd);
}

static void test_errors(void **state)
{
	(void)state;
	char longp[200];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(kunix_connect(longp), -ENAMETOOLONG);
	assert_int_equal(kunix_listen(longp, 1, false), -ENAMETOOLONG);
	assert_int_equal(kunix_connect(g_path), -ENOENT);
	assert_false(kunix_peer_allowed(-1));
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_false(kunix_peer_allowed(fds[0])); /* not a socket */
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listen_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
