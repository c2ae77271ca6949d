/* rseq-counter (guest-kernel/programs/rseq-counter.c, built with
 * -Dmain=rseq_counter_main) in a program or library of its own, with a
 * helper library of the program's: its critical sections are where
 * rseq-counter.c is compiled, the helper has none. */
#include <stdio.h>

int rseq_counter_main(int argc, char **argv);
const char *which(void);

int main(int argc, char **argv)
{
    printf("helper: %s\n", which());
    return rseq_counter_main(argc, argv);
}
