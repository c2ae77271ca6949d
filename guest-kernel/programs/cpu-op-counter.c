/*
 * cpu-op-counter: a per-CPU counter whose fast path is a restartable
 * sequence and whose slow path is cpu_opv. An update whose sequence aborted
 * MAX_ABORTS times in a row is made by cpu_op_add instead, so every update
 * completes however often the sequence is hit: the forward-progress
 * guarantee cpu_opv was proposed for.
 *
 * usage: cpu-op-counter THREADS N MAX_ABORTS [OPV_THREADS [WINDOW]]
 * THREADS threads float over the CPUs, N updates each as above (MAX_ABORTS
 * 0: straight to cpu_opv). OPV_THREADS more update through cpu_opv only,
 * aimed at every CPU in turn, until the others are done, so slow paths race
 * fast paths on every CPU for the whole run. The fast path loads the
 * counter, spins WINDOW times (default 0), then stores it plus one: a
 * cpu_opv that ran anywhere but on the counter's CPU, or without preempting
 * the sequence there, would land inside that window and its add would be
 * lost. SIGUSR1 is handled (counted). The counters must add up to every
 * update made: exit status 0 they do, 1 they do not, 2 setup failed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cpu-op.h"
#include "rseq-cs.h"

struct percpu_word {
    intptr_t value;
} __attribute__((aligned(64)));

static struct percpu_word counters[CPU_SETSIZE];
static long updates, max_aborts, window;
static int ncpus, fast_threads_done;
static volatile sig_atomic_t signals_handled;

struct worker {
    pthread_t thread;
    int opv_only;
    long made, aborts, fallbacks, failures;
};

static void count_signal(int signo)
{
    (void)signo;
    signals_handled++;
}

/* The fast path: this CPU's counter + 1. 0 committed, 1 aborted or moved. */
static int increment_here(void)
{
    int cpu = current_cpu();

    return rseq_increment_slowly(&counters[cpu].value, cpu, window);
}

static void slow_add(struct worker *w, int cpu)
{
    w->fallbacks++;
    if (cpu_op_add(cpu, &counters[cpu].value, 1)) {
        perror("cpu-op-counter: cpu_opv");
        w->failures++;
    }
}

static void *work_opv_only(void *arg)
{
    struct worker *w = arg;

    while (!__atomic_load_n(&fast_threads_done, __ATOMIC_RELAXED)) {
        slow_add(w, w->made++ % ncpus);
    }
    return NULL;
}

static void *work(void *arg)
{
    struct worker *w = arg;

    for (; w->made < updates; w->made++) {
        long aborted = 0;

        while (aborted < max_aborts && increment_here()) {
            aborted++;
        }
        w->aborts += aborted;
        if (aborted == max_aborts) {
            slow_add(w, current_cpu());
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long threads, opv_threads, total = 0, made = 0, opv_only_made = 0, aborts = 0, fallbacks = 0,
         failures = 0;
    struct worker *workers;

    if (argc < 4 || (threads = atol(argv[1])) < 0 || (updates = atol(argv[2])) < 1 ||
        (max_aborts = atol(argv[3])) < 0 ||
        (opv_threads = argc > 4 ? atol(argv[4]) : 0) < 0 || threads + opv_threads < 1 ||
        (window = argc > 5 ? atol(argv[5]) : 0) < 0) {
        fprintf(stderr, "usage: cpu-op-counter THREADS N MAX_ABORTS [OPV_THREADS [WINDOW]]\n");
        return 2;
    }
    if (__rseq_size == 0) {
        fprintf(stderr, "cpu-op-counter: glibc did not register rseq\n");
        return 2;
    }
    ncpus = sysconf(_SC_NPROCESSORS_ONLN);
    signal(SIGUSR1, count_signal);
    workers = calloc(threads + opv_threads, sizeof(*workers));
    for (long i = 0; i < threads + opv_threads; i++) {
        workers[i].opv_only = i >= threads;
        if (pthread_create(&workers[i].thread, NULL, workers[i].opv_only ? work_opv_only : work,
                           &workers[i])) {
            fprintf(stderr, "cpu-op-counter: cannot start thread %ld\n", i);
            return 2;
        }
    }
    for (long i = 0; i < threads + opv_threads; i++) {
        if (i == threads) {
            __atomic_store_n(&fast_threads_done, 1, __ATOMIC_RELAXED);
        }
        pthread_join(workers[i].thread, NULL);
        made += workers[i].made;
        opv_only_made += workers[i].opv_only ? workers[i].made : 0;
        aborts += workers[i].aborts;
        fallbacks += workers[i].fallbacks;
        failures += workers[i].failures;
    }
    for (int cpu = 0; cpu < ncpus; cpu++) {
        total += counters[cpu].value;
    }
    printf("cpu-op-counter: %d cpus, %ld threads x %ld updates, fallback after %ld aborts, "
           "%ld cpu_opv-only threads\n", ncpus, threads, updates, max_aborts, opv_threads);
    printf("aborts: %ld\n", aborts);
    printf("fallbacks: %ld\n", fallbacks);
    printf("cpu_opv-only updates: %ld\n", opv_only_made);
    printf("cpu_opv failures: %ld\n", failures);
    printf("signals handled: %d\n", (int)signals_handled);
    printf("total %ld %s updates made %ld: %s\n", total, total == made ? "==" : "!=", made,
           total == made && !failures ? "ok" : "BROKEN");
    return total == made && !failures ? 0 : 1;
}
