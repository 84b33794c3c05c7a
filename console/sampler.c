/* SPDX-License-Identifier: Apache-2.0 */
/* The thread of kura-console that scrapes the daemon's counters every few
 * seconds (the admin request "metrics", as GET /metrics does) into the
 * per-LUN history (history.c), so that the history exists whether or not a
 * page is open. HTTP threads read it under the same lock.
 *
 * Not for: rates and rings (history.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include "common/log.h"
#include "console/console.h"
#include "console/history.h"

struct hist_sampler {
	const char *socket;
	unsigned interval_s;
	struct hist *h;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* on the monotonic clock: stop, or the next tick */
	bool stop, warned;
};

static int64_t ms_of(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void scrape(struct hist_sampler *s)
{
	char *text;
	bool ok;
	int r = console_admin(s->socket, "metrics", &text, &ok);
	int64_t wall = ms_of(CLOCK_REALTIME), mono = ms_of(CLOCK_MONOTONIC);
	pthread_mutex_lock(&s->mu);
	if (r == 0 && ok)
		r = hist_sample(s->h, text, wall, mono);
	else
		hist_gap(s->h);
	pthread_mutex_unlock(&s->mu);
	if (r == -ENOSPC && !s->warned)
		kwarn("console: more than %d LUNs: the charts show the first %d", HIST_LUNS,
		      HIST_LUNS);
	s->warned |= r == -ENOSPC;
	free(text);
}

static void *run(void *arg)
{
	struct hist_sampler *s = arg;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		pthread_mutex_unlock(&s->mu);
		scrape(s);
		next.tv_sec += s->interval_s;
		pthread_mutex_lock(&s->mu);
		while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &next) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

struct hist_sampler *hist_sampler_start(const char *socket, unsigned interval_s)
{
	struct hist_sampler *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	if (!s || !(s->h = hist_new(interval_s))) {
		free(s);
		return NULL;
	}
	s->socket = socket;
	s->interval_s = interval_s;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&s->thread, NULL, run, s) == 0)
		return s;
	hist_free(s->h);
	free(s);
	return NULL;
}

void hist_sampler_stop(struct hist_sampler *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	hist_free(s->h);
	free(s);
}

void hist_sampler_json(struct hist_sampler *s, FILE *f, uint32_t since)
{
	pthread_mutex_lock(&s->mu);
	hist_json(s->h, f, ms_of(CLOCK_REALTIME), since);
	pthread_mutex_unlock(&s->mu);
}
