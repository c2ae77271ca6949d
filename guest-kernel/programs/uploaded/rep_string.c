/*
 * rep_string: one REP STOSB of N bytes (at fill_here) and one REPNE SCASB
 * over them (at scan_here), so the host can check that every iteration of
 * a string instruction is one arrival, that an event before the K-th
 * iteration finds exactly K - 1 of them done, and that the instruction then
 * finishes as if nothing had come: SIGUSR1's handler notes how many bytes
 * the fill had stored.
 *
 * usage: rep_string N
 * prints "stored N" (bytes the fill left set), "found at N - 1" (where the
 * scan found the one different byte) and "stored when signalled K" (-1: no
 * signal came).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILL 0xab
#define MARK 0xcd

/* fill(buf, n, byte): rep stosb. scan(buf, n, byte): where repne scasb stops. */
void fill(unsigned char *buf, long n, long byte);
long scan(const unsigned char *buf, long n, long byte);
__asm__(".text\n\t"
        ".globl fill\n"
        "fill:\n\t"
        "movq %rdx, %rax\n\t"
        "movq %rsi, %rcx\n\t"
        ".globl fill_here\n"
        "fill_here:\n\t"
        "rep stosb\n\t"
        "ret\n\t"
        ".globl scan\n"
        "scan:\n\t"
        "movq %rdx, %rax\n\t"
        "movq %rsi, %rcx\n\t"
        "movq %rdi, %rdx\n\t"
        ".globl scan_here\n"
        "scan_here:\n\t"
        "repne scasb\n\t"
        "leaq -1(%rdi), %rax\n\t"
        "subq %rdx, %rax\n\t"
        "ret");

static unsigned char *buf;
static long n;
static volatile long stored_when_signalled = -1;

static long stored(void)
{
    long k = 0;

    while (k < n && buf[k] == FILL) {
        k++;
    }
    return k;
}

static void on_usr1(int signo)
{
    (void)signo;
    stored_when_signalled = stored();
}

int main(int argc, char **argv)
{
    n = argc == 2 ? atol(argv[1]) : 0;
    if (n < 1) {
        fprintf(stderr, "usage: rep_string N\n");
        return 2;
    }
    /*
     * Touched before the fill: an iteration whose store faults arrives
     * again once the fault is handled.
     */
    buf = malloc(n);
    if (!buf) {
        perror("rep_string: malloc");
        return 2;
    }
    memset(buf, 0, n);
    signal(SIGUSR1, on_usr1);
    fill(buf, n, FILL);
    long filled = stored();
    buf[n - 1] = MARK;
    printf("stored %ld\nfound at %ld\nstored when signalled %ld\n", filled,
           scan(buf, n, MARK), stored_when_signalled);
    return 0;
}
