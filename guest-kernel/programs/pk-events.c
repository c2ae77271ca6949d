/*
 * pk-events: protection-key events whose every detail is known in advance,
 * for checking what QEMU records (qemu-patches/0013, pytests/test_pk_events.py).
 *
 *   pk-events sequence   a key, a page with it, its rights changed by the
 *                        program's own WRPKRU (pk_wrpkru) and by the kernel
 *                        (sys_pkey_set), a read and a write the key denies
 *                        (pk_read, pk_write), each caught as SEGV_PKUERR and
 *                        stepped over (to pk_read_done, pk_write_done)
 *   pk-events xrstor-init  PKRU set by WRPKRU, then loaded by an XRSTOR
 *                        (pk_xrstor) of PKRU alone from an area whose XSTATE_BV
 *                        bit 9 is clear: its init value, 0
 *   pk-events loop N     N pairs of WRPKRUs closing and opening a key: a
 *                        workload made of PKRU writes, for bench/pk_slowdown.py
 *
 * The sequence prints what the host cannot know before the run: "pkey K",
 * "page 0xADDR", then for each write of the rights "pkru 0xOLD -> 0xNEW
 * (wrpkru|pkey_set)" and for each fault "fault read|write pkey K addr 0xADDR
 * code C" (si_code) as the handler saw it. Exit status 0 when each step did
 * what it should, 1 otherwise.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cpuid.h>
#include <ucontext.h>

#include "pkey-syscalls.h"

#define PAGE 4096

#define XSTATE_PKRU (1u << 9)
#define XSAVE_HEADER 512  /* XSTATE_BV: the first 8 bytes of the header */

extern char pk_wrpkru[], pk_read[], pk_read_done[], pk_write[], pk_write_done[];

static volatile sig_atomic_t faults;
static volatile int fault_pkey;
static void *volatile fault_addr;
static volatile int fault_code;

static uint32_t rdpkru(void)
{
    uint32_t eax, edx;

    __asm__ volatile("rdpkru" : "=a"(eax), "=d"(edx) : "c"(0));
    return eax;
}

/* The program's only WRPKRU, at a symbol the host can look up. */
static __attribute__((noinline, noclone)) void wrpkru(uint32_t pkru)
{
    __asm__ volatile(".globl pk_wrpkru\n"
                     "pk_wrpkru: wrpkru"
                     :
                     : "a"(pkru), "c"(0), "d"(0)
                     : "memory");
}

static __attribute__((noinline, noclone)) int read_through_key(const volatile int *p)
{
    int v = -1;

    __asm__ volatile(".globl pk_read, pk_read_done\n"
                     "pk_read: movl (%1), %0\n"
                     "pk_read_done:"
                     : "+r"(v)
                     : "r"(p)
                     : "memory");
    return v;
}

static __attribute__((noinline, noclone)) void write_through_key(volatile int *p, int v)
{
    __asm__ volatile(".globl pk_write, pk_write_done\n"
                     "pk_write: movl %1, (%0)\n"
                     "pk_write_done:"
                     :
                     : "r"(p), "r"(v)
                     : "memory");
}

/* A denied access is stepped over; sigreturn restores the faulting PKRU. */
static void on_segv(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    greg_t *rip = &uc->uc_mcontext.gregs[REG_RIP];

    (void)sig;
    faults++;
    fault_code = info->si_code;
    fault_pkey = info->si_pkey;
    fault_addr = info->si_addr;
    if (*rip == (greg_t)pk_read) {
        *rip = (greg_t)pk_read_done;
    } else if (*rip == (greg_t)pk_write) {
        *rip = (greg_t)pk_write_done;
    } else {
        abort();
    }
}

static int set_by_wrpkru(int pkey, unsigned rights)
{
    uint32_t old = rdpkru();
    uint32_t pkru = (old & ~(3u << (2 * pkey))) | rights << (2 * pkey);

    wrpkru(pkru);
    printf("pkru %#x -> %#x (wrpkru)\n", old, rdpkru());
    return rdpkru() == pkru;
}

static int set_by_syscall(int pkey, unsigned rights)
{
    uint32_t old = rdpkru();

    if (sys_pkey_set(pkey, rights, 0) != 0) {
        perror("pkey_set");
        return 0;
    }
    printf("pkru %#x -> %#x (pkey_set)\n", old, rdpkru());
    return ((rdpkru() >> (2 * pkey)) & 3) == rights;
}

static int expect_fault(const char *access, int pkey, void *addr)
{
    printf("fault %s pkey %d addr %p code %d\n", access, fault_pkey, fault_addr, fault_code);
    return fault_code == SEGV_PKUERR && fault_pkey == pkey && fault_addr == addr;
}

static int sequence(void)
{
    struct sigaction sa;
    int ok = 1;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);

    int *page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int pkey = pkey_alloc(0, 0);
    if (page == MAP_FAILED || pkey < 0 ||
        pkey_mprotect(page, PAGE, PROT_READ | PROT_WRITE, pkey) != 0) {
        perror("pk-events: setup");
        return 1;
    }
    page[0] = 42;
    printf("pkey %d\npage %p\n", pkey, (void *)page);

    ok &= set_by_wrpkru(pkey, PKEY_DISABLE_ACCESS);
    ok &= read_through_key(page) == -1 && faults == 1;
    ok &= expect_fault("read", pkey, page);
    ok &= set_by_syscall(pkey, PKEY_DISABLE_WRITE);
    ok &= read_through_key(page) == 42 && faults == 1;
    write_through_key(page, 7);
    ok &= faults == 2 && page[0] == 42;
    ok &= expect_fault("write", pkey, page);
    ok &= set_by_wrpkru(pkey, 0);
    write_through_key(page, 7);
    ok &= faults == 2 && page[0] == 7;
    ok &= pkey_free(pkey) == 0;
    printf("%s\n", ok ? "ok" : "FAILED");
    return !ok;
}

static __attribute__((noinline, noclone)) int xrstor_init(void)
{
    unsigned eax, ebx, ecx, edx;

    __cpuid_count(0xd, 0, eax, ebx, ecx, edx);
    unsigned char *area = aligned_alloc(64, (ebx + 63) & ~63u);
    if (!area) {
        return 1;
    }
    memset(area, 0, ebx);
    wrpkru(0x55555550);
    __asm__ volatile("xsave (%0)" : : "r"(area), "a"(XSTATE_PKRU), "d"(0) : "memory");
    area[XSAVE_HEADER + 1] &= ~(XSTATE_PKRU >> 8);
    __asm__ volatile(".globl pk_xrstor\n"
                     "pk_xrstor: xrstor (%0)"
                     :
                     : "r"(area), "a"(XSTATE_PKRU), "d"(0)
                     : "memory");
    printf("pkru %#x after xrstor\n", rdpkru());
    return rdpkru() != 0;
}

static int loop(long n)
{
    uint32_t open = rdpkru();
    uint32_t closed = open ^ 0xc;  /* key 1's two bits flipped: every write changes PKRU */

    for (long i = 0; i < n; i++) {
        wrpkru(closed);
        wrpkru(open);
    }
    return rdpkru() != open;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "sequence") == 0) {
        return sequence();
    }
    if (argc == 2 && strcmp(argv[1], "xrstor-init") == 0) {
        return xrstor_init();
    }
    if (argc == 3 && strcmp(argv[1], "loop") == 0) {
        return loop(strtol(argv[2], NULL, 0));
    }
    fprintf(stderr, "usage: pk-events sequence | xrstor-init | loop N\n");
    return 2;
}
