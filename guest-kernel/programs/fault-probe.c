/*
 * fault-probe: reads one byte of a page it filled, between two readings of
 * its minor-fault and voluntary context switch counts, then checks every
 * byte of the page.
 *
 * The host arms a page_fault or page_fault_blocking event before
 * fault_probe_read, on probe_page (the private anonymous page the read
 * touches) or on the code page of the read itself, and expects the fault
 * count to rise with the data intact, and the switch count with it when
 * the fault blocks.
 * Output: "minor faults: N", "voluntary switches: N" (during the read) and
 * "intact: yes|no".
 * Exit status: 0 intact, 1 the page changed.
 */
#include <stdio.h>
#include <sys/resource.h>

#define PAGE 4096

unsigned char probe_page[PAGE] __attribute__((aligned(PAGE)));

static unsigned char pattern(unsigned i)
{
    return (unsigned char)(i * 7 + 3);
}

int main(void)
{
    struct rusage before, after;
    unsigned first;
    int intact = 1;

    for (unsigned i = 0; i < PAGE; i++) {
        probe_page[i] = pattern(i);
    }
    getrusage(RUSAGE_SELF, &before);
    __asm__ volatile(".globl fault_probe_read\n\t"
                     "fault_probe_read:\n\t"
                     "movzbl (%1), %0"
                     : "=r"(first)
                     : "r"(probe_page)
                     : "memory");
    getrusage(RUSAGE_SELF, &after);
    for (unsigned i = 0; i < PAGE; i++) {
        intact &= probe_page[i] == pattern(i);
    }
    intact &= first == pattern(0);
    printf("minor faults: %ld\nvoluntary switches: %ld\nintact: %s\n",
           after.ru_minflt - before.ru_minflt, after.ru_nvcsw - before.ru_nvcsw,
           intact ? "yes" : "no");
    return !intact;
}
