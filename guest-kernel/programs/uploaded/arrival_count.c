/*
 * arrival_count: executes one marked instruction (count_here) a known
 * number of times along one path, so the host can check that a trigger
 * there counts every execution once and fires before exactly the one it
 * names: SIGUSR1's handler notes which execution it came before.
 *
 * usage: arrival_count same-page|other-page|fork N
 *   same-page   a loop on count_here's page jumps back to it N times
 *   other-page  a loop on another page calls it N times
 *   fork        as same-page, by rounds, in this process and a forked
 *               child that take turns on CPU 0: one code page run in two
 *               address spaces, switched between both at system calls
 *               and by preemption inside the loop
 * prints "executions N" and "signalled before K" (0: no signal came).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * count_to(&executions, n): count_here runs n times (n >= 1), looping by a
 * jump back on its own page. The page holds nothing else, so a call from
 * C code always comes from another page.
 */
void count_to(volatile long *executions, long n);
__asm__(".pushsection .text.arrival_count, \"ax\"\n\t"
        ".balign 4096\n\t"
        ".globl count_to\n"
        "count_to:\n\t"
        ".globl count_here\n"
        "count_here:\n\t"
        "incq (%rdi)\n\t"
        ".globl after_count\n"
        "after_count:\n\t"
        "decq %rsi\n\t"
        "jnz count_here\n\t"
        "ret\n\t"
        ".balign 4096\n\t"
        ".popsection");

static volatile long executions;
static volatile long signalled_before;

static void on_usr1(int signo)
{
    (void)signo;
    /* The handler runs before the execution it was fired for. */
    signalled_before = executions + 1;
}

static void pin_to_cpu0(void)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (sched_setaffinity(0, sizeof(set), &set)) {
        perror("arrival_count: sched_setaffinity");
        exit(2);
    }
}

/* Rounds of count_to with a yield between: the other process runs there. */
static void take_turns(long n)
{
    long round = n / 20 > 0 ? n / 20 : 1;

    for (long done = 0; done < n; done += round) {
        count_to(&executions, n - done < round ? n - done : round);
        sched_yield();
    }
}

int main(int argc, char **argv)
{
    long n = argc > 2 ? atol(argv[2]) : 0;
    pid_t child;
    int status;

    if (argc != 3 || n < 1) {
        fprintf(stderr, "usage: arrival_count same-page|other-page|fork N\n");
        return 2;
    }
    signal(SIGUSR1, on_usr1);
    if (!strcmp(argv[1], "same-page")) {
        count_to(&executions, n);
    } else if (!strcmp(argv[1], "other-page")) {
        for (long i = 0; i < n; i++) {
            count_to(&executions, 1);
        }
    } else if (!strcmp(argv[1], "fork")) {
        pin_to_cpu0();
        child = fork();
        if (child < 0) {
            perror("arrival_count: fork");
            return 2;
        }
        /*
         * Take the copy-on-write fault here, not in count_here: an
         * execution that faults arrives again once the fault is handled.
         */
        executions = 0;
        take_turns(n);
        if (child == 0) {
            _exit(0);
        }
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            fprintf(stderr, "arrival_count: the child failed\n");
            return 1;
        }
    } else {
        fprintf(stderr, "arrival_count: no mode '%s'\n", argv[1]);
        return 2;
    }
    printf("executions %ld\nsignalled before %ld\n", executions, signalled_before);
    return 0;
}
