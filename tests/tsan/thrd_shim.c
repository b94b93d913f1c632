/*
 * thrd_shim.c - linked into ThreadSanitizer builds only (make check-tsan). Debian's librdkafka
 * starts its threads with C11 thrd_create, which glibc runs without passing TSan's
 * pthread_create interceptor, so TSan crashes in those threads; defining the C11 thread calls
 * here over pthreads routes them through it. Never linked into a normal build.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

/* The C11 start routine and its argument, handed to the pthread trampoline. */
struct tramp {
	thrd_start_t fn;
	void *arg;
};

/* Runs the C11 start routine on a pthread. */
static void *run(void *p)
{
	struct tramp t = *(struct tramp *)p;
	free(p);
	return (void *)(intptr_t)t.fn(t.arg);
}

int thrd_create(thrd_t *thr, thrd_start_t fn, void *arg)
{
	struct tramp *t = malloc(sizeof *t);
	if (!t)
		return thrd_nomem;
	t->fn = fn;
	t->arg = arg;
	if (pthread_create((pthread_t *)thr, NULL, run, t)) {
		free(t);
		return thrd_error;
	}
	return thrd_success;
}

int thrd_detach(thrd_t thr)
{
	return pthread_detach((pthread_t)thr) ? thrd_error : thrd_success;
}

int thrd_join(thrd_t thr, int *res)
{
	void *r;
	if (pthread_join((pthread_t)thr, &r))
		return thrd_error;
	if (res)
		*res = (int)(intptr_t)r;
	return thrd_success;
}
