/*
 * preemption_budget: a workload whose own check holds against any one
 * event but not against several in one run, as a latency-bound loop's
 * might: it makes N getppid() calls and fails when it was preempted more
 * than once meanwhile (nonvoluntary_ctxt_switches in /proc/self/status).
 * A kernel sweep of __x64_sys_getppid must report such a run as a finding
 * of trials that break it together, none of which breaks it alone.
 *
 * usage: preemption_budget N
 * prints "preempted K"; exit 1 when K > 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long preemptions(void)
{
    char line[256];
    long n = -1;
    FILE *status = fopen("/proc/self/status", "r");

    if (!status) {
        perror("preemption_budget: /proc/self/status");
        exit(2);
    }
    while (fgets(line, sizeof(line), status)) {
        if (!strncmp(line, "nonvoluntary_ctxt_switches:", 27)) {
            n = atol(line + 27);
        }
    }
    fclose(status);
    if (n < 0) {
        fprintf(stderr, "preemption_budget: no nonvoluntary_ctxt_switches\n");
        exit(2);
    }
    return n;
}

int main(int argc, char **argv)
{
    long calls = argc == 2 ? atol(argv[1]) : 0;

    if (calls < 1) {
        fprintf(stderr, "usage: preemption_budget N\n");
        return 2;
    }
    long before = preemptions();
    for (long i = 0; i < calls; i++) {
        getppid();
    }
    long preempted = preemptions() - before;
    printf("preempted %ld\n", preempted);
    return preempted > 1;
}
