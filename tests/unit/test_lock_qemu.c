/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of cluster-lock/lock_qemu.c: the QEMU command line the daemon
 * builds (disks, initiator name, QMP, incoming), spawn / kill / reap of a
 * child, and the QMP client against a scripted server on a socketpair
 * (greeting, capabilities, events skipped, errors, timeouts).
 * Not for: a real QEMU (tests/cluster/ does that). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include "cluster-lock/lock_qemu.c"
#include "cluster-lock/lock_config.c"

static char *words[] = { "-m", "256", "-append", "console=ttyS0 quiet", NULL };
static char *disks[] = { "iscsi://127.0.0.1:3260/iqn.x:vms/1", "/dev/a,b", NULL };

static struct lock_qemu_spec spec(void)
{
	return (struct lock_qemu_spec){
		.binary = "qemu-system-x86_64",
		.vm_name = "web1",
		.qemu_argv = words,
		.qemu_argc = 4,
		.initiator = "iqn.x:hv1",
		.disks = disks,
		.n_disks = 2,
		.disk_device = true,
		.qmp_path = "/run/s/web1.qmp",
		.log_path = "/dev/null",
	};
}

static void argv_is(char **v, const char *const *want)
{
	int i = 0;
	for (; want[i]; i++) {
		assert_non_null(v[i]);
		assert_string_equal(v[i], want[i]);
	}
	assert_null(v[i]);
	lock_free_words(v);
}

static void test_argv(void **state)
{
	struct lock_qemu_spec s = spec();
	argv_is(lock_qemu_argv(&s),
		(const char *const[]){
			"qemu-system-x86_64",
			"-m",
			"256",
			"-append",
			"console=ttyS0 quiet",
			"-name",
			"web1",
			"-qmp",
			"unix:/run/s/web1.qmp,server=on,wait=off",
			"-iscsi",
			"initiator-name=iqn.x:hv1",
			"-drive",
			"file=iscsi://127.0.0.1:3260/iqn.x:vms/1,format=raw,if=none,id=disk0,"
			"cache=none",
			"-device",
			"virtio-blk-pci,drive=disk0",
			"-drive",
			"file=/dev/a,,b,format=raw,if=none,id=disk1,cache=none",
			"-device",
			"virtio-blk-pci,drive=disk1",
			NULL });
	s.disk_device = false;
	s.n_disks = 1;
	s.qemu_argc = 0;
	s.incoming = "tcp:127.0.0.1:4444";
	argv_is(lock_qemu_argv(&s),
		(const char *const[]){
			"qemu-system-x86_64", "-name", "web1", "-qmp",
			"unix:/run/s/web1.qmp,server=on,wait=off", "-iscsi",
			"initiator-name=iqn.x:hv1", "-drive",
			"file=iscsi://127.0.0.1:3260/iqn.x:vms/1,format=raw,if=none,id=disk0,"
			"cache=none",
			"-S", "-incoming", "tcp:127.0.0.1:4444", NULL });
}

static void test_spawn_kill_reap(void **state)
{
	char *sh[] = { "-c", "exec sleep 30", NULL };
	struct lock_qemu_spec s = spec();
	s.binary = "/bin/sh";
	s.qemu_argv = sh;
	s.qemu_argc = 2;
	s.qmp_path = "/tmp/kura-test-lock-qemu.qmp";
	pid_t pid;
	int pidfd, status;
	assert_int_equal(lock_qemu_spawn(&s, &pid, &pidfd), 0);
	assert_int_equal(lock_qemu_reap(pid, &status), 0);
	assert_int_equal(lock_qemu_kill(pidfd), 0);
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(lock_qemu_reap(pid, &status), 1);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(lock_qemu_kill(pidfd), 0); /* already gone: still fine */
	close(pidfd);
}

/* A scripted QMP server: sends its lines, reads one request before each
 * line that starts with '<' (the request must contain the rest). */
struct script {
	int fd;
	const char *const *lines;
	bool ok;
};

static void *server(void *arg)
{
	struct script *sc = arg;
	char buf[4096];
	sc->ok = true;
	for (const char *const *l = sc->lines; *l; l++) {
		if (**l == '<') {
			ssize_t n = read(sc->fd, buf, sizeof(buf) - 1);
			buf[n > 0 ? n : 0] = '\0';
			sc->ok &= n > 0 && strstr(buf, *l + 1) != NULL;
			continue;
		}
		dprintf(sc->fd, "%s\r\n", *l);
	}
	return NULL;
}

static void qmp_scripted(const char *const *lines, void (*client)(struct lock_qmp *))
{
	int sv[2];
	pthread_t t;
	struct lock_qmp q = { .fd = -1 };
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct script sc = { .fd = sv[1], .lines = lines };
	pthread_create(&t, NULL, server, &sc);
	q.fd = sv[0];
	client(&q);
	lock_qmp_close(&q);
	pthread_join(t, NULL);
	close(sv[1]);
	assert_true(sc.ok);
}

static void client_migrate(struct lock_qmp *q)
{
	char st[32];
	assert_int_equal(lock_qmp_migrate(q, "tcp:127.0.0.1:5", 1000), 0);
	assert_int_equal(lock_qmp_migrate_status(q, st, sizeof(st), 1000), 0);
	assert_string_equal(st, "completed");
	assert_int_equal(lock_qmp_simple(q, "cont", 1000), -EIO);
	assert_int_equal(lock_qmp_run_status(q, st, sizeof(st), 1000), 0);
	assert_string_equal(st, "none");
	assert_int_equal(lock_qmp_simple(q, "stop", 100), -ETIMEDOUT);
}

static void test_qmp(void **state)
{
	qmp_scripted(
		(const char *const[]){
			"<\"uri\":\"tcp:127.0.0.1:5\"", "{\"return\": {}}", "<query-migrate",
			"{\"event\": \"MIGRATION\", \"data\": {\"status\": \"setup\"}}",
			"{\"return\": {\"status\": \"completed\", \"total-time\": 5}}", "<cont",
			"{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}}",
			"<query-status", "{\"return\": {}}", "<stop", NULL },
		client_migrate);
}

static void test_json_str(void **state)
{
	char out[16];
	assert_int_equal(lock_json_str("{\"a\": 1, \"status\" : \"active\"}", "status", out,
				       sizeof(out)),
			 0);
	assert_string_equal(out, "active");
	assert_int_equal(lock_json_str("{\"status\": 3}", "status", out, sizeof(out)), -ENOENT);
	assert_int_equal(lock_json_str("{}", "status", out, sizeof(out)), -ENOENT);
}

static void test_qmp_open_missing(void **state)
{
	struct lock_qmp q;
	assert_int_equal(lock_qmp_open(&q, "/nonexistent/x.qmp", 50), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argv),
		cmocka_unit_test(test_spawn_kill_reap),
		cmocka_unit_test(test_qmp),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_qmp_open_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
