/* SPDX-License-Identifier: Apache-2.0 */
/* QEMU processes and QMP for kura-lockd (interface and rules: lock_qemu.h).
 *
 * Not for: choosing where a VM runs or when it may write (kura-lockd's host
 * state machine), registering keys (lock_scsi.c).
 */
#include "cluster-lock/lock_qemu.h"
#include "cluster-lock/lock_config.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common/unixsock.h"

/* ------------------------------------------------------------ argv */

struct argv_buf {
	char **v;
	int n, cap;
	bool oom;
};

static void add(struct argv_buf *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct argv_buf *a, const char *fmt, ...)
{
	if (a->oom)
		return;
	if (a->n + 2 > a->cap) {
		int cap = a->cap ? a->cap * 2 : 32;
		char **v = realloc(a->v, cap * sizeof(*v));
		if (!v) {
			a->oom = true;
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&a->v[a->n], fmt, ap) < 0)
		a->oom = true;
	else
		a->v[++a->n] = NULL;
	va_end(ap);
}

/* QEMU's option syntax: a comma inside a value is written ",,". */
static char *qemu_escape(const char *s)
{
	char *out = malloc(2 * strlen(s) + 1), *o = out;
	for (; out && *s; s++) {
		*o++ = *s;
		if (*s == ',')
			*o++ = ',';
	}
	if (out)
		*o = '\0';
	return out;
}

static void add_disks(struct argv_buf *a, const struct lock_qemu_spec *s)
{
	for (int i = 0; i < s->n_disks; i++) {
		char *file = qemu_escape(s->disks[i]);
		if (!file) {
			a->oom = true;
			return;
		}
		add(a, "-drive");
		add(a, "file=%s,format=raw,if=none,id=disk%d,cache=none", file, i);
		free(file);
		if (s->disk_device) {
			add(a, "-device");
			add(a, "virtio-blk-pci,drive=disk%d", i);
		}
	}
}

char **lock_qemu_argv(const struct lock_qemu_spec *s)
{
	struct argv_buf a = { 0 };
	add(&a, "%s", s->binary);
	for (int i = 0; i < s->qemu_argc; i++)
		add(&a, "%s", s->qemu_argv[i]);
	add(&a, "-name");
	add(&a, "%s", s->vm_name);
	add(&a, "-qmp");
	add(&a, "unix:%s,server=on,wait=off", s->qmp_path);
	add(&a, "-iscsi");
	add(&a, "initiator-name=%s", s->initiator);
	add_disks(&a, s);
	if (s->incoming) {
		add(&a, "-S");
		add(&a, "-incoming");
		add(&a, "%s", s->incoming);
	}
	if (a.oom) {
		lock_free_words(a.v);
		return NULL;
	}
	return a.v;
}

/* ------------------------------------------------------------ process */

static void child_exec(char **argv, int logfd, pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0)
		dup2(devnull, 0);
	dup2(logfd, 1);
	dup2(logfd, 2);
	setpgid(0, 0); /* a test's kill -STOP -PGID reaches QEMU alone */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(argv[0], argv);
	dprintf(2, "kura-lockd: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int lock_qemu_spawn(const struct lock_qemu_spec *s, pid_t *pid, int *pidfd)
{
	char **argv = lock_qemu_argv(s);
	if (!argv)
		return -ENOMEM;
	int logfd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (logfd < 0) {
		int e = -errno;
		lock_free_words(argv);
		return e;
	}
	unlink(s->qmp_path);
	pid_t parent = getpid();
	pid_t p = fork();
	if (p == 0)
		child_exec(argv, logfd, parent);
	int e = p < 0 ? -errno : 0;
	close(logfd);
	lock_free_words(argv);
	if (e)
		return e;
	*pid = p;
	*pidfd = (int)syscall(SYS_pidfd_open, p, 0);
	return *pidfd < 0 ? -errno : 0;
}

int lock_qemu_kill(int pidfd)
{
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
		return -errno;
	return 0;
}

int lock_qemu_reap(pid_t pid, int *status)
{
	pid_t r = waitpid(pid, status, WNOHANG);
	if (r < 0)
		return -errno;
	return r == pid;
}

/* ------------------------------------------------------------ QMP */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* One line (without "\n") into LINE; waits until DEADLINE (monotonic ms). */
static int qmp_read_line(struct lock_qmp *q, char *line, size_t size, long long deadline)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		if (nl) {
			size_t n = nl - q->buf;
			snprintf(line, size, "%.*s", (int)n, q->buf);
			memmove(q->buf, nl + 1, q->len - n - 1);
			q->len -= n + 1;
			return 0;
		}
		if (q->len == sizeof(q->buf))
			return -EMSGSIZE;
		long long left = deadline - now_ms();
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		int r = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		ssize_t n = r > 0 ? read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len) : 0;
		if (r > 0 && n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		if (n > 0)
			q->len += n;
	}
}

int lock_qmp_cmd(struct lock_qmp *q, const char *cmd, char *reply, size_t len, unsigned timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	char line[8192];
	int n = snprintf(line, sizeof(line), "%s\n", cmd);
	if (n >= (int)sizeof(line))
		return -EMSGSIZE;
	if (send(q->fd, line, n, MSG_NOSIGNAL) != n)
		return errno ? -errno : -EIO;
	for (;;) {
		int r = qmp_read_line(q, line, sizeof(line), deadline);
		if (r < 0)
			return r;
		bool ret = strstr(line, "\"return\"") != NULL;
		if (!ret && !strstr(line, "\"error\""))
			continue; /* an event, or the greeting */
		if (reply)
			snprintf(reply, len, "%s", line);
		return ret ? 0 : -EIO;
	}
}

void lock_qmp_close(struct lock_qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	q->len = 0;
}

int lock_qmp_open(struct lock_qmp *q, const char *path, unsigned timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	char line[8192];
	q->len = 0;
	while ((q->fd = kunix_connect(path)) < 0) {
		if (now_ms() >= deadline)
			return q->fd;
		usleep(20000);
	}
	int r = qmp_read_line(q, line, sizeof(line), deadline);
	if (r == 0 && !strstr(line, "\"QMP\""))
		r = -EPROTO;
	if (r == 0)
		r = lock_qmp_cmd(q, "{\"execute\":\"qmp_capabilities\"}", NULL, 0,
				 (unsigned)(deadline > now_ms() ? deadline - now_ms() : 1));
	if (r < 0)
		lock_qmp_close(q);
	return r;
}

int lock_qmp_simple(struct lock_qmp *q, const char *execute, unsigned timeout_ms)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "{\"execute\":\"%s\"}", execute);
	return lock_qmp_cmd(q, cmd, NULL, 0, timeout_ms);
}

int lock_qmp_migrate(struct lock_qmp *q, const char *uri, unsigned timeout_ms)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"%s\"}}", uri);
	return lock_qmp_cmd(q, cmd, NULL, 0, timeout_ms);
}

int lock_json_str(const char *j, const char *key, char *out, size_t len)
{
	char pat[80];
	snprintf(pat, sizeof(pat), "\"%s\"", key);
	const char *p = strstr(j, pat);
	if (!p)
		return -ENOENT;
	p += strlen(pat);
	p += strspn(p, " \t:");
	if (*p != '"')
		return -ENOENT;
	size_t n = strcspn(++p, "\"");
	snprintf(out, len, "%.*s", (int)n, p);
	return 0;
}

static int qmp_query_status(struct lock_qmp *q, const char *execute, char *status, size_t len,
			    unsigned timeout_ms)
{
	char reply[8192];
	int r = lock_qmp_cmd(q, execute, reply, sizeof(reply), timeout_ms);
	if (r == 0)
		r = lock_json_str(reply, "status", status, len);
	if (r == -ENOENT)
		snprintf(status, len, "none");
	return r == -ENOENT ? 0 : r;
}

int lock_qmp_migrate_status(struct lock_qmp *q, char *status, size_t len, unsigned timeout_ms)
{
	return qmp_query_status(q, "{\"execute\":\"query-migrate\"}", status, len, timeout_ms);
}

int lock_qmp_run_status(struct lock_qmp *q, char *status, size_t len, unsigned timeout_ms)
{
	return qmp_query_status(q, "{\"execute\":\"query-status\"}", status, len, timeout_ms);
}
