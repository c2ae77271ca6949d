/*
 * event_probe: reads, at one marked instruction, what an event fired just
 * before it changed. The host arms the event before probe_here.
 *   "before CPU" / "after CPU": rseq cpu_id around the marked instruction
 *   "handled N": what the marked instruction read from the flag SIGUSR1's
 *                handler sets (1: the handler ran before it)
 *   "mask N": CPUs in the affinity mask afterwards
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/rseq.h>

volatile int handled;

static void on_usr1(int signo)
{
    (void)signo;
    handled = 1;
}

static unsigned rseq_cpu_id(void)
{
    struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);

    return __atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED);
}

int main(void)
{
    cpu_set_t mask;
    unsigned before, after;
    int seen;

    signal(SIGUSR1, on_usr1);
    before = rseq_cpu_id();
    __asm__ volatile(".globl probe_here\n\t"
                     "probe_here:\n\t"
                     "movl handled(%%rip), %0"
                     : "=r"(seen)
                     :
                     : "memory");
    after = rseq_cpu_id();
    sched_getaffinity(0, sizeof(mask), &mask);
    printf("before %u\nafter %u\nhandled %d\nmask %d\n", before, after, seen, CPU_COUNT(&mask));
    return 0;
}
