/*
 * code_rewrite: rewrites the code in an executable page and runs it, round
 * after round, to check that the guest runs what it wrote: QEMU drops the
 * translations of a page of code written to (qemu-patches/0021: all of them
 * at once once the page has taken many writes).
 *
 * usage: code_rewrite ROUNDS DATA_WRITES
 * Each round writes `mov $round, %eax; ret` at the start of the page, byte
 * by byte, then DATA_WRITES bytes of data into its second half, then calls
 * the code, which must return round. Prints "ROUNDS rounds ok" (exit 0), or
 * the first round whose call returned something else (exit 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 100;
    int data_writes = argc > 2 ? atoi(argv[2]) : 100;
    volatile unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (page == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    for (int round = 0; round < rounds; ++round) {
        unsigned char code[] = {0xb8, 0, 0, 0, 0, 0xc3}; /* mov $imm32, %eax; ret */

        memcpy(code + 1, &round, sizeof(round));
        for (size_t k = 0; k < sizeof(code); ++k) {
            page[k] = code[k];
        }
        for (int k = 0; k < data_writes; ++k) {
            page[2048 + k % 2048] = (unsigned char)(round + k);
        }
        int returned = ((int (*)(void))page)();
        if (returned != round) {
            printf("round %d: the code returned %d\n", round, returned);
            return 1;
        }
    }
    printf("%d rounds ok\n", rounds);
    return 0;
}
