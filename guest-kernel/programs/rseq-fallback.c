/*
 * rseq-fallback: a per-CPU counter whose abort handler is a slow path with
 * a bug that takes two events to show.
 *
 * usage: rseq-fallback [N]
 * One floating thread adds 1 to its CPU's counter N times (default 1000).
 * The fast path is a restartable sequence. Its abort handler falls back to
 * an atomic add outside any sequence, bracketed by a per-CPU count of
 * threads in the slow path (what a reader draining a CPU would wait on):
 * in, add, out. Each step looks the CPU up anew, so a thread migrated
 * between the lookups counts itself in on one CPU and out on another.
 * The handler runs only after an abort (a preemption, signal or migration
 * inside the sequence), and a migration inside the sequence runs all of it
 * on the new CPU: one event never breaks it; a migration inside the handler
 * after an abort does.
 * Exit status: 0 the total is right and every CPU's slow-path count is 0,
 * 1 not, 2 setup failed.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "rseq-cs.h"

struct percpu_word {
    intptr_t value;
} __attribute__((aligned(64)));

static struct percpu_word counters[CPU_SETSIZE];
static struct percpu_word in_slow_path[CPU_SETSIZE];

static void ignore(int signo)
{
    (void)signo;
}

/* counters[cpu] + 1: 0 on the fast path, 1 through the slow path. */
static __attribute__((noinline)) int percpu_add_one(int cpu)
{
    _Static_assert(sizeof(struct percpu_word) == 64, "the handler indexes by cpu << 6");
    __asm__ goto(RSEQ_CS_BEGIN
                 "addq $1, %[counter]\n\t" /* commit */
                 "2:\n\t"
                 ".pushsection __rseq_failure, \"ax\"\n\t"
                 ".byte 0x0f, 0xb9, 0x3d\n\t"
                 ".long 0x53053053\n\t"
                 "4:\n\t"
                 "movl %%fs:4(%[rseq]), %%eax\n\t"
                 "shlq $6, %%rax\n\t"
                 "lock incq (%[in_slow_path], %%rax)\n\t"
                 "lock incq (%[counters], %%rax)\n\t"
                 "movl %%fs:4(%[rseq]), %%eax\n\t" /* the bug: the CPU may have changed */
                 "shlq $6, %%rax\n\t"
                 "lock decq (%[in_slow_path], %%rax)\n\t"
                 "jmp %l[slow]\n\t"
                 ".popsection\n\t"
                 :
                 : [rseq] "r"(__rseq_offset), [cpu] "r"(cpu), [counter] "m"(counters[cpu].value),
                   [counters] "r"(counters), [in_slow_path] "r"(in_slow_path)
                 : "rax", "memory", "cc"
                 : slow);
    return 0;
slow:
    return 1;
}

int main(int argc, char **argv)
{
    long updates = argc > 1 ? atol(argv[1]) : 1000, slow = 0, total = 0;
    int ncpus = sysconf(_SC_NPROCESSORS_ONLN), ok = 1;

    /* A signal event aborts the sequence and leaves the program running. */
    signal(SIGUSR1, ignore);
    if (__rseq_size == 0 || updates < 1 || ncpus < 1 || ncpus > CPU_SETSIZE) {
        fprintf(stderr, "usage: rseq-fallback [N>=1] (with glibc's rseq registration)\n");
        return 2;
    }
    for (long i = 0; i < updates; i++) {
        slow += percpu_add_one(current_cpu());
    }
    for (int cpu = 0; cpu < ncpus; cpu++) {
        printf("cpu %d: %ld added, %ld in the slow path\n", cpu, (long)counters[cpu].value,
               (long)in_slow_path[cpu].value);
        total += counters[cpu].value;
        ok &= in_slow_path[cpu].value == 0;
    }
    printf("slow path taken %ld times\n", slow);
    printf("total %ld %s expected %ld: %s\n", total, total == updates ? "==" : "!=", updates,
           total == updates && ok ? "ok" : "BROKEN");
    return total == updates && ok ? 0 : 1;
}
