/*
 * rseq-counter: per-CPU data structures updated through restartable
 * sequences, on the rseq area glibc registered (__rseq_offset).
 *
 * usage: rseq-counter [THREADS_PER_CPU [N]]
 * One thread per CPU is pinned there, so every vCPU runs the sequences; the
 * others float and get preempted and migrated. Each thread makes N updates
 * of each structure:
 *   counter  per-CPU add                 (percpu_add)
 *   cmpxchg  per-CPU compare-and-store   (percpu_cmpxchg), used as an add
 *   list     per-CPU singly linked list  (percpu_push, percpu_pop)
 * and the program checks its invariants: the counters add up to every
 * update made, each CPU's counter holds at least its pinned thread's adds,
 * and every node pushed is popped exactly once with the lists empty after.
 * SIGUSR1 is handled (counted), so a signal delivered inside a sequence
 * exercises rseq's abort-on-signal path without ending the program.
 * Exit status: 0 invariants hold, 1 an invariant broke, 2 setup failed.
 *
 * Built with -DCOMMIT_NOT_LAST it becomes rseq-buggy: one more instruction
 * sits between the counter's commit and its post-commit address, so an
 * abort there replays an add that already happened. Built with
 * -DRSEQ_CS_SIGNATURE=0x53053054 -DRSEQ_CS_CLEARED_AFTER it becomes
 * rseq-bad-signature: the word before each abort handler is not the
 * signature glibc registered, so an event that would abort a sequence gets
 * the thread SIGSEGV instead (rseq_cs is cleared after each sequence, so
 * events elsewhere do not). Built with -DBUSY_MARK_IN_SEQUENCE it becomes
 * rseq-livelock: the add marks its CPU busy with a store inside the
 * sequence, before the commit, and clears the mark after it, and each try
 * first spins until its CPU is not busy. An abort between the mark and the
 * commit leaves the mark behind, and every thread that comes to that CPU
 * spins forever: an event before the commit ends all progress.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "rseq-cs.h"

#ifdef COMMIT_NOT_LAST
#define AFTER_COMMIT "nop\n\t"
#else
#define AFTER_COMMIT ""
#endif
#ifdef BUSY_MARK_IN_SEQUENCE
#define MARK_BUSY "movq $1, %[busy]\n\t"
#define CLEAR_BUSY "movq $0, %[busy]\n\t"
#define BUSY_OPERAND , [busy] "m"(busy[cpu].value)
#else
#define MARK_BUSY ""
#define CLEAR_BUSY ""
#define BUSY_OPERAND
#endif

struct percpu_word {
    intptr_t value;
} __attribute__((aligned(64)));

struct node {
    struct node *next;
    int popped;
};

struct percpu_list {
    struct node *head;
} __attribute__((aligned(64)));

static struct percpu_word counters[CPU_SETSIZE];
#ifdef BUSY_MARK_IN_SEQUENCE
static struct percpu_word busy[CPU_SETSIZE];
#endif
static struct percpu_word cas_counters[CPU_SETSIZE];
static struct percpu_list lists[CPU_SETSIZE];
static volatile sig_atomic_t signals_handled;
static long updates = 10000;
static int ncpus;
static pthread_barrier_t pushed_all;

struct worker {
    pthread_t thread;
    int pinned_cpu; /* -1: floats */
    long aborts, cas_aborts, list_aborts, popped;
    struct node *nodes;
};

static void count_signal(int signo)
{
    (void)signo;
    signals_handled++;
}

/* Add n to counters[cpu]. Returns 0 committed, 1 aborted or moved. */
static __attribute__((noinline)) int percpu_add(int cpu, intptr_t n)
{
#ifdef BUSY_MARK_IN_SEQUENCE
    while (__atomic_load_n(&busy[cpu].value, __ATOMIC_ACQUIRE)) {
    }
#endif
    __asm__ goto(RSEQ_CS_BEGIN
                 MARK_BUSY
                 "addq %[n], %[counter]\n\t" /* commit */
                 AFTER_COMMIT
                 RSEQ_CS_END
                 CLEAR_BUSY
                 :
                 : [rseq] "r"(__rseq_offset), [cpu] "r"(cpu), [n] "er"(n),
                   [counter] "m"(counters[cpu].value) BUSY_OPERAND
                 : "rax", "memory", "cc"
                 : abort);
    return 0;
abort:
    return 1;
}

/* If cas_counters[cpu] == expect, store newv. 0 stored, 1 differed, -1 aborted. */
static __attribute__((noinline)) int percpu_cmpxchg(int cpu, intptr_t expect, intptr_t newv)
{
    __asm__ goto(RSEQ_CS_BEGIN
                 "cmpq %[expect], %[word]\n\t"
                 "jnz %l[differ]\n\t"
                 "movq %[newv], %[word]\n\t" /* commit */
                 RSEQ_CS_END
                 :
                 : [rseq] "r"(__rseq_offset), [cpu] "r"(cpu), [expect] "r"(expect),
                   [newv] "r"(newv), [word] "m"(cas_counters[cpu].value)
                 : "rax", "memory", "cc"
                 : abort, differ);
    return 0;
abort:
    return -1;
differ:
    rseq_cs_clear_after();
    return 1;
}

/* Push n on lists[cpu]. 0 pushed, 1 aborted or moved. */
static __attribute__((noinline)) int percpu_push(int cpu, struct node *n)
{
    __asm__ goto(RSEQ_CS_BEGIN
                 "movq %[head], %%rcx\n\t"
                 "movq %%rcx, (%[node])\n\t" /* n->next = head: n is still private */
                 "movq %[node], %[head]\n\t" /* commit */
                 RSEQ_CS_END
                 :
                 : [rseq] "r"(__rseq_offset), [cpu] "r"(cpu), [node] "r"(n),
                   [head] "m"(lists[cpu].head)
                 : "rax", "rcx", "memory", "cc"
                 : abort);
    return 0;
abort:
    return 1;
}

/* Pop lists[cpu] into *out (NULL when empty). 0 done, 1 aborted or moved. */
static __attribute__((noinline)) int percpu_pop(int cpu, struct node **out)
{
    struct node *head;

    __asm__ goto(RSEQ_CS_BEGIN
                 "movq %[head], %%rcx\n\t"
                 "movq %%rcx, (%[out])\n\t"
                 "testq %%rcx, %%rcx\n\t"
                 "jz %l[empty]\n\t"
                 "movq (%%rcx), %%rcx\n\t"   /* head->next */
                 "movq %%rcx, %[head]\n\t"   /* commit */
                 RSEQ_CS_END
                 :
                 : [rseq] "r"(__rseq_offset), [cpu] "r"(cpu), [head] "m"(lists[cpu].head),
                   [out] "r"(&head)
                 : "rax", "rcx", "memory", "cc"
                 : abort, empty);
    *out = head;
    return 0;
empty:
    rseq_cs_clear_after();
    *out = NULL;
    return 0;
abort:
    return 1;
}

static void pin(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set)) {
        perror("rseq-counter: sched_setaffinity");
        exit(2);
    }
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct node *n;

    if (w->pinned_cpu >= 0) {
        pin(w->pinned_cpu);
    }
    for (long i = 0; i < updates; i++) {
        while (percpu_add(current_cpu(), 1)) {
            w->aborts++;
        }
    }
    for (long i = 0; i < updates; i++) {
        for (;;) {
            int cpu = current_cpu();
            intptr_t seen = __atomic_load_n(&cas_counters[cpu].value, __ATOMIC_RELAXED);
            int r = percpu_cmpxchg(cpu, seen, seen + 1);

            if (r == 0) {
                break;
            }
            w->cas_aborts += r < 0;
        }
    }
    for (long i = 0; i < updates; i++) {
        while (percpu_push(current_cpu(), &w->nodes[i])) {
            w->list_aborts++;
        }
    }
    pthread_barrier_wait(&pushed_all);
    /* Pop until this CPU's list is empty; the pinned threads drain every CPU. */
    for (;;) {
        if (percpu_pop(current_cpu(), &n)) {
            w->list_aborts++;
        } else if (!n) {
            break;
        } else {
            n->popped++;
            w->popped++;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int per_cpu = argc > 1 ? atoi(argv[1]) : 2;
    struct worker *workers;
    long total = 0, cas_total = 0, popped = 0, once = 0, aborts = 0, cas_aborts = 0,
         list_aborts = 0, expected;
    int nthreads, ok = 1;

    if (argc > 2) {
        updates = atol(argv[2]);
    }
    ncpus = sysconf(_SC_NPROCESSORS_ONLN);
    signal(SIGUSR1, count_signal);
    if (__rseq_size == 0) {
        fprintf(stderr, "rseq-counter: glibc did not register rseq\n");
        return 2;
    }
    if (per_cpu < 1 || updates < 1 || ncpus < 1 || ncpus > CPU_SETSIZE) {
        fprintf(stderr, "usage: rseq-counter [THREADS_PER_CPU>=1 [N>=1]]\n");
        return 2;
    }
    nthreads = per_cpu * ncpus;
    expected = (long)nthreads * updates;
    workers = calloc(nthreads, sizeof(*workers));
    pthread_barrier_init(&pushed_all, NULL, nthreads);
    for (int i = 0; i < nthreads; i++) {
        workers[i].pinned_cpu = i < ncpus ? i : -1;
        workers[i].nodes = calloc(updates, sizeof(struct node));
        if (!workers[i].nodes || pthread_create(&workers[i].thread, NULL, work, &workers[i])) {
            fprintf(stderr, "rseq-counter: cannot start thread %d\n", i);
            return 2;
        }
    }
    for (int i = 0; i < nthreads; i++) {
        pthread_join(workers[i].thread, NULL);
    }
    /*
     * Only now: a thread's nodes may be popped by any other thread, so
     * counting them as each thread is joined would catch some still in a
     * list (seen as "N-1 exactly once" about one run in ten).
     */
    for (int i = 0; i < nthreads; i++) {
        aborts += workers[i].aborts;
        cas_aborts += workers[i].cas_aborts;
        list_aborts += workers[i].list_aborts;
        popped += workers[i].popped;
        for (long k = 0; k < updates; k++) {
            once += workers[i].nodes[k].popped == 1;
        }
    }
    printf("rseq-counter: %d cpus, %d threads x %ld updates\n", ncpus, nthreads, updates);
    for (int cpu = 0; cpu < ncpus; cpu++) {
        int enough = counters[cpu].value >= updates;

        printf("cpu %d: %ld increments%s\n", cpu, (long)counters[cpu].value,
               enough ? "" : " (less than its pinned thread added)");
        total += counters[cpu].value;
        cas_total += cas_counters[cpu].value;
        ok &= enough && lists[cpu].head == NULL;
    }
    printf("aborts: %ld\n", aborts);
    printf("cmpxchg aborts: %ld\n", cas_aborts);
    printf("list aborts: %ld\n", list_aborts);
    printf("signals handled: %d\n", (int)signals_handled);
    printf("cmpxchg total %ld %s expected %ld\n", cas_total, cas_total == expected ? "==" : "!=",
           expected);
    printf("list: %ld pushed, %ld popped, %ld exactly once, lists %s\n", expected, popped, once,
           ok ? "empty" : "not all empty or a CPU short");
    ok &= cas_total == expected && popped == expected && once == expected;
    printf("total %ld %s expected %ld: %s\n", total, total == expected ? "==" : "!=", expected,
           total == expected && ok ? "ok" : "BROKEN");
    return total == expected && ok ? 0 : 1;
}
