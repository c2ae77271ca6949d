/*
 * rseq-counter: per-CPU counters updated through a restartable sequence,
 * using the rseq area glibc registered (__rseq_offset).
 *
 * usage: rseq-counter [THREADS_PER_CPU [INCREMENTS]]
 * One thread per CPU is pinned there, so every vCPU runs the sequence; the
 * others float and get preempted and migrated. The invariants checked at the
 * end: the per-CPU counts add up to every increment made, and each CPU holds
 * at least what its pinned thread added.
 * SIGUSR1 is handled (counted), so a signal delivered inside the sequence
 * exercises rseq's abort-on-signal path without ending the program.
 * Exit status: 0 invariants hold, 1 an invariant broke, 2 setup failed.
 *
 * The critical section follows the kernel selftests' convention (a
 * __rseq_cs_ptr_array entry per struct rseq_cs) so tools can find it.
 *
 * Built with -DCOMMIT_NOT_LAST it becomes rseq-buggy: one more instruction
 * sits between the commit and the post-commit address, so an abort there
 * replays an add that already happened and the total comes out too high.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/rseq.h>
#include <unistd.h>

struct percpu_counter {
    intptr_t count;
} __attribute__((aligned(64)));

#ifdef COMMIT_NOT_LAST
#define AFTER_COMMIT "nop\n\t"
#else
#define AFTER_COMMIT ""
#endif

static struct percpu_counter counters[CPU_SETSIZE];
static volatile sig_atomic_t signals_handled;
static long increments = 10000;
static int ncpus;

struct worker {
    pthread_t thread;
    int pinned_cpu; /* -1: floats */
    long aborts;
};

static void count_signal(int signo)
{
    (void)signo;
    signals_handled++;
}

static struct rseq *rseq_area(void)
{
    return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

/*
 * Add n to counters[cpu] if the thread is still on cpu. Returns 0 when the
 * add committed, 1 when the kernel aborted the sequence (preemption,
 * migration or signal) or the thread had moved.
 */
static __attribute__((noinline)) int percpu_add(int cpu, intptr_t n)
{
    __asm__ goto(
        ".pushsection __rseq_cs, \"aw\"\n\t"
        ".balign 32\n\t"
        "3:\n\t"
        ".long 0, 0\n\t"                /* version, flags */
        ".quad 1f, (2f - 1f), 4f\n\t"   /* start_ip, post_commit_offset, abort_ip */
        ".popsection\n\t"
        ".pushsection __rseq_cs_ptr_array, \"aw\"\n\t"
        ".quad 3b\n\t"
        ".popsection\n\t"
        "leaq 3b(%%rip), %%rax\n\t"
        "movq %%rax, %%fs:8(%[rseq])\n\t" /* rseq->rseq_cs = &cs */
        "1:\n\t"
        "cmpl %[cpu], %%fs:4(%[rseq])\n\t" /* rseq->cpu_id */
        "jnz 4f\n\t"
        "addq %[n], %[counter]\n\t"     /* commit */
        AFTER_COMMIT
        "2:\n\t"
        ".pushsection __rseq_failure, \"ax\"\n\t"
        ".byte 0x0f, 0xb9, 0x3d\n\t"    /* ud1 with RSEQ_SIG as displacement */
        ".long 0x53053053\n\t"
        "4:\n\t"
        "jmp %l[abort]\n\t"
        ".popsection\n\t"
        :
        : [rseq] "r"(__rseq_offset), [cpu] "r"(cpu), [n] "er"(n),
          [counter] "m"(counters[cpu].count)
        : "rax", "memory", "cc"
        : abort);
    return 0;
abort:
    return 1;
}

static void *work(void *arg)
{
    struct worker *w = arg;

    if (w->pinned_cpu >= 0) {
        cpu_set_t set;

        CPU_ZERO(&set);
        CPU_SET(w->pinned_cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set)) {
            perror("rseq-counter: sched_setaffinity");
            exit(2);
        }
    }
    for (long i = 0; i < increments; i++) {
        while (percpu_add(__atomic_load_n(&rseq_area()->cpu_id_start, __ATOMIC_RELAXED), 1)) {
            w->aborts++;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int per_cpu = argc > 1 ? atoi(argv[1]) : 2;
    struct worker *workers;
    long total = 0, aborts = 0, expected;
    int nthreads, ok = 1;

    if (argc > 2) {
        increments = atol(argv[2]);
    }
    ncpus = sysconf(_SC_NPROCESSORS_ONLN);
    signal(SIGUSR1, count_signal);
    if (__rseq_size == 0) {
        fprintf(stderr, "rseq-counter: glibc did not register rseq\n");
        return 2;
    }
    if (per_cpu < 1 || increments < 1 || ncpus < 1 || ncpus > CPU_SETSIZE) {
        fprintf(stderr, "usage: rseq-counter [THREADS_PER_CPU>=1 [INCREMENTS>=1]]\n");
        return 2;
    }
    nthreads = per_cpu * ncpus;
    workers = calloc(nthreads, sizeof(*workers));
    for (int i = 0; i < nthreads; i++) {
        workers[i].pinned_cpu = i < ncpus ? i : -1;
        if (pthread_create(&workers[i].thread, NULL, work, &workers[i])) {
            fprintf(stderr, "rseq-counter: pthread_create failed\n");
            return 2;
        }
    }
    for (int i = 0; i < nthreads; i++) {
        pthread_join(workers[i].thread, NULL);
        aborts += workers[i].aborts;
    }
    printf("rseq-counter: %d cpus, %d threads x %ld increments\n", ncpus, nthreads, increments);
    for (int cpu = 0; cpu < ncpus; cpu++) {
        int enough = counters[cpu].count >= increments;

        printf("cpu %d: %ld increments%s\n", cpu, (long)counters[cpu].count,
               enough ? "" : " (less than its pinned thread added)");
        total += counters[cpu].count;
        ok &= enough;
    }
    expected = (long)nthreads * increments;
    printf("aborts: %ld\n", aborts);
    printf("signals handled: %d\n", (int)signals_handled);
    printf("total %ld %s expected %ld: %s\n", total, total == expected ? "==" : "!=", expected,
           total == expected && ok ? "ok" : "BROKEN");
    return total == expected && ok ? 0 : 1;
}
