/*
 * thread-churn: threads that do nothing but start and exit, for MS
 * milliseconds of guest time. Each CPU gets a creator that starts a thread,
 * joins it and starts the next, so most of the program's time is spent in
 * clone and exit: a per-tick hook (the pkey watchdog) keeps landing on
 * threads on their way out.
 *
 * usage: thread-churn MS   prints "threads N"; exit 0, 2 on bad usage or
 * a thread that could not start.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long run_ms;

struct creator {
    pthread_t thread;
    int cpu;
    long started;
    int failed;
};

static void *exit_at_once(void *arg)
{
    return arg;
}

static long elapsed_ms(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void *create_and_join(void *arg)
{
    struct creator *c = arg;
    struct timespec start;
    cpu_set_t only;
    pthread_t t;

    CPU_ZERO(&only);
    CPU_SET(c->cpu, &only);
    sched_setaffinity(0, sizeof(only), &only);
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (elapsed_ms(&start) < run_ms) {
        if (pthread_create(&t, NULL, exit_at_once, NULL)) {
            c->failed = 1;
            break;
        }
        pthread_join(t, NULL);
        c->started++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long ncpus = sysconf(_SC_NPROCESSORS_ONLN), started = 0;
    struct creator *creators;
    int failed = 0;

    if (argc != 2 || (run_ms = atol(argv[1])) < 1) {
        fprintf(stderr, "usage: thread-churn MS\n");
        return 2;
    }
    creators = calloc(ncpus, sizeof(*creators));
    for (int cpu = 0; cpu < ncpus; cpu++) {
        creators[cpu].cpu = cpu;
        if (pthread_create(&creators[cpu].thread, NULL, create_and_join, &creators[cpu])) {
            fprintf(stderr, "thread-churn: cannot start a creator\n");
            return 2;
        }
    }
    for (int cpu = 0; cpu < ncpus; cpu++) {
        pthread_join(creators[cpu].thread, NULL);
        started += creators[cpu].started;
        failed |= creators[cpu].failed;
    }
    printf("threads %ld\n", started);
    return failed ? 2 : 0;
}
