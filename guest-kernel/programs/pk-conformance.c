/*
 * pk-conformance: every case of `faultline conformance pk`, run for real.
 *
 * The space: the case page's U/S, R/W and key (PTE bits 62:59) × CPL 0 and
 * 3 × read, write, instruction fetch × CR0.WP × CR4.SMAP × EFLAGS.AC ×
 * CR4.PKE × CR4.PKS × the four AD/WD settings of the page's key in PKRS ×
 * the same in PKRU (every other key 0 in both): 64 × 2 × 1536 = 196,608
 * cases, in the order of case_id(). The CPL 3 accesses are made here, the
 * CPL 0 ones by the kernel (debugfs pks/conformance, uapi
 * linux/pk_conformance.h), which also sets the PTE and this task's PKRS.
 * A fault on the case page is claimed by the kernel and the access resumes
 * at the continuation in RCX: the host learns which access faulted, and
 * how, from QEMU's page-fault records, never from here.
 *
 * Output, one line each:
 *   pk-conformance VERSION 0xPAGE CASES
 *   ID FLAGS PKRU PKRS       a case that ran, hex; FLAGS read back (below)
 *   ID -                     a case the guest cannot set up (not covered)
 *   w ICOUNT                 a block of cases (a page's CPL 0 or CPL 3 ones)
 *                            begins: the guest instruction count before it
 * in the order the cases ran; the N-th case line's access is at PAGE + 2 *
 * (N mod 2048): a block is shorter than that, so within a block (the
 * host matches QEMU's records to a block by their instruction counts) no
 * two cases share an address.
 * Not covered at CPL 3: CR0.WP, CR4.SMAP, CR4.PKE and CR4.PKS other than the
 * kernel's (1, 1, 1, 1: user space cannot change them, and the kernel does
 * not run user space with others), and a PKRS that closes key 0 (every
 * interrupt's frame push would fault). At CPL 0: under CR4.PKS a PKRS that
 * forbids writing key 0 (the fault's own frame push).
 * Exit status 0, 2 bad usage, 3 the kernel's case format differs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/faultline.h>
#include <linux/pk_conformance.h>

#define PAGE 4096
#define CASES_PER_CPL 1536
#define CASES_PER_PAGE (2 * CASES_PER_CPL)
#define PAGES 64
#define JMP_RCX 0xe1ff /* "jmp *%rcx", the page's every even offset */
/* glibc registers at least the original 32-byte struct rseq, whatever __rseq_size says. */
#define RSEQ_REGISTERED_MIN 32u

/* FLAGS: the inputs as the CPU held them when the access ran. */
enum {
    F_KIND = 0,     /* 2 bits: PKC_READ, PKC_WRITE, PKC_FETCH */
    F_CPL3 = 2,
    F_US = 3,       /* PTE bit 2 */
    F_RW = 4,       /* PTE bit 1 */
    F_WP = 5,       /* CR0 bit 16 */
    F_SMAP = 6,     /* CR4 bit 21 */
    F_AC = 7,       /* RFLAGS bit 18 */
    F_PKE = 8,      /* CR4 bit 22 */
    F_PKS = 9,      /* CR4 bit 24 */
    F_SMEP = 10,    /* CR4 bit 20 */
    F_NXE = 11,     /* EFER bit 11 */
    F_XD = 12,      /* PTE bit 63 */
    F_KEY = 16,     /* 4 bits: PTE bits 62:59 */
};

static int fd;
static uint8_t *page;
static unsigned long seq; /* cases printed so far */

static void die(const char *what)
{
    fprintf(stderr, "pk-conformance: %s: %s\n", what, strerror(errno));
    exit(1);
}

static unsigned case_id(unsigned pg, unsigned cpl3, unsigned kind, unsigned wp, unsigned smap,
                        unsigned ac, unsigned pke, unsigned pks, unsigned pkrs, unsigned pkru)
{
    unsigned inner = ((((((kind * 2 + wp) * 2 + smap) * 2 + ac) * 2 + pke) * 2 + pks) * 4 +
                      pkrs) * 4 + pkru;
    return pg * CASES_PER_PAGE + cpl3 * CASES_PER_CPL + inner;
}

static uint8_t *next_addr(void)
{
    return page + 2 * (seq++ % (PAGE / 2));
}

/* The mailbox's instruction count (linux/faultline.h), which QEMU's records carry too. */
static void begin_block(void)
{
    uint32_t lo = inl(FAULTLINE_MAILBOX_IOBASE + FAULTLINE_MAILBOX_ICOUNT_LO);
    uint32_t hi = inl(FAULTLINE_MAILBOX_IOBASE + FAULTLINE_MAILBOX_ICOUNT_HI);

    printf("w %llx\n", (unsigned long long)hi << 32 | lo);
}

static void not_covered(unsigned id)
{
    seq++;
    printf("%x -\n", id);
}

static unsigned flags_of(unsigned kind, int cpl3, uint64_t pte, uint64_t cr0, uint64_t cr4,
                         uint64_t efer, uint64_t rflags)
{
    return kind << F_KIND | (unsigned)cpl3 << F_CPL3 | (unsigned)(pte >> 2 & 1) << F_US |
           (unsigned)(pte >> 1 & 1) << F_RW | (unsigned)(cr0 >> 16 & 1) << F_WP |
           (unsigned)(cr4 >> 21 & 1) << F_SMAP | (unsigned)(rflags >> 18 & 1) << F_AC |
           (unsigned)(cr4 >> 22 & 1) << F_PKE | (unsigned)(cr4 >> 24 & 1) << F_PKS |
           (unsigned)(cr4 >> 20 & 1) << F_SMEP | (unsigned)(efer >> 11 & 1) << F_NXE |
           (unsigned)(pte >> 63 & 1) << F_XD | (unsigned)(pte >> 59 & 15) << F_KEY;
}

static uint32_t rdpkru(void)
{
    uint32_t eax, edx;

    __asm__ volatile("rdpkru" : "=a"(eax), "=d"(edx) : "c"(0));
    return eax;
}

static uint64_t set_ac(int on)
{
    uint64_t fl;

    __asm__ volatile("pushfq; popq %0" : "=r"(fl));
    fl = on ? fl | (1u << 18) : fl & ~(1ull << 18);
    __asm__ volatile("pushq %0; popfq" : : "r"(fl) : "cc", "memory");
    __asm__ volatile("pushfq; popq %0" : "=r"(fl));
    return fl;
}

/*
 * One CPL 3 access under PKRU = pkru, back to PKRU = home after it. Between
 * the two WRPKRUs nothing but the access touches memory (the stack's key 0
 * may be closed); RCX holds the continuation, where a claimed fault resumes.
 * Returns the PKRU the access ran with, read back.
 */
static uint32_t user_access(unsigned kind, uint32_t pkru, uint32_t home, uint8_t *addr)
{
    uint32_t ran_with;
    uint16_t val = JMP_RCX;

#define WRPKRU_AND_BACK(access)                                                            \
    __asm__ volatile("xorl %%ecx, %%ecx\n\txorl %%edx, %%edx\n\tmovl %[pkru], %%eax\n\t"    \
                     "wrpkru\n\trdpkru\n\tmovl %%eax, %[ran]\n\t"                           \
                     "leaq 1f(%%rip), %%rcx\n\t" access "\n1:\n\t"                          \
                     "xorl %%ecx, %%ecx\n\txorl %%edx, %%edx\n\tmovl %[home], %%eax\n\t"     \
                     "wrpkru"                                                               \
                     : [ran] "=&r"(ran_with), [val] "+r"(val)                               \
                     : [pkru] "r"(pkru), [home] "r"(home), [addr] "r"(addr)                 \
                     : "rax", "rcx", "rdx", "memory")
    switch (kind) {
    case PKC_READ:
        WRPKRU_AND_BACK("movw (%[addr]), %w[val]");
        break;
    case PKC_WRITE:
        WRPKRU_AND_BACK("movw %w[val], (%[addr])");
        break;
    case PKC_FETCH:
        WRPKRU_AND_BACK("jmp *%[addr]");
        break;
    }
#undef WRPKRU_AND_BACK
    return ran_with;
}

static void run_cpl3(unsigned pg, unsigned key, uint64_t pte, uint32_t home)
{
    begin_block();
    for (unsigned pkrs = 0; pkrs < 4; pkrs++) {
        uint32_t pkrs_value = pkrs << (2 * key);
        struct pkc_state st;
        int settable = !(pkrs_value & 3);

        if (settable && ioctl(fd, PKC_IOC_SET_PKRS, &pkrs_value))
            die("PKC_IOC_SET_PKRS");
        if (ioctl(fd, PKC_IOC_STATE, &st))
            die("PKC_IOC_STATE");
        for (unsigned kind = 0; kind < 3; kind++)
            for (unsigned wp = 0; wp < 2; wp++)
                for (unsigned smap = 0; smap < 2; smap++)
                    for (unsigned ac = 0; ac < 2; ac++)
                        for (unsigned pke = 0; pke < 2; pke++)
                            for (unsigned pks = 0; pks < 2; pks++)
                                for (unsigned pkru = 0; pkru < 4; pkru++) {
                                    unsigned id = case_id(pg, 1, kind, wp, smap, ac, pke, pks,
                                                          pkrs, pkru);
                                    uint32_t pkru_value = pkru << (2 * key);
                                    uint64_t rflags;
                                    uint32_t ran_with;

                                    if (!settable || !wp || !smap || !pke || !pks) {
                                        not_covered(id);
                                        continue;
                                    }
                                    rflags = set_ac(ac);
                                    ran_with = user_access(kind, pkru_value, home, next_addr());
                                    set_ac(0);
                                    printf("%x %x %x %x\n", id,
                                           flags_of(kind, 1, pte, st.cr0, st.cr4, st.efer, rflags),
                                           ran_with, st.pkrs);
                                }
    }
    uint32_t zero = 0;
    if (ioctl(fd, PKC_IOC_SET_PKRS, &zero))
        die("PKC_IOC_SET_PKRS");
}

/*
 * CR4.PKE and CR4.PKS change innermost, with PKRU and PKRS as they were: a
 * MOV to CR4 invalidates no TLB entry for those bits (SDM vol. 3A 4.10.4.1),
 * and their effect must not wait for one.
 */
static void run_cpl0(unsigned pg, unsigned key, struct pkc_case *cases)
{
    struct pkc_run run = {.cases = (uintptr_t)cases, .count = CASES_PER_CPL};
    unsigned ids[CASES_PER_CPL];
    unsigned n = 0;

    for (unsigned kind = 0; kind < 3; kind++)
        for (unsigned wp = 0; wp < 2; wp++)
            for (unsigned smap = 0; smap < 2; smap++)
                for (unsigned ac = 0; ac < 2; ac++)
                    for (unsigned pkrs = 0; pkrs < 4; pkrs++)
                        for (unsigned pkru = 0; pkru < 4; pkru++)
                            for (unsigned pke = 0; pke < 2; pke++)
                                for (unsigned pks = 0; pks < 2; pks++) {
                                    ids[n] = case_id(pg, 0, kind, wp, smap, ac, pke, pks, pkrs,
                                                     pkru);
                                    cases[n] = (struct pkc_case){
                                        .addr = (uintptr_t)page + 2 * ((seq + n) % (PAGE / 2)),
                                        .kind = kind, .cr0_wp = wp, .cr4_smap = smap,
                                        .eflags_ac = ac, .cr4_pke = pke, .cr4_pks = pks,
                                        .pkru = pkru << (2 * key), .pkrs = pkrs << (2 * key),
                                    };
                                    n++;
                                }
    begin_block();
    if (ioctl(fd, PKC_IOC_RUN, &run))
        die("PKC_IOC_RUN");
    for (unsigned i = 0; i < CASES_PER_CPL; i++) {
        const struct pkc_case *c = &cases[i];

        if (!c->covered) {
            not_covered(ids[i]);
            continue;
        }
        seq++;
        printf("%x %x %x %x\n", ids[i],
               flags_of(c->kind, 0, c->pte, c->cr0, c->cr4, c->efer, c->rflags), c->pkru_set,
               c->pkrs_set);
    }
}

int main(int argc, char **argv)
{
    static struct pkc_case cases[CASES_PER_CPL];
    uint32_t home = rdpkru();
    long version;

    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: pk-conformance\n");
        return 2;
    }
    /*
     * A preemption makes the kernel update glibc's rseq area (key 0) on the
     * way back to user space, under whatever PKRU the case set: one that
     * closes key 0 would turn that into a SIGSEGV.
     */
    if (__rseq_size &&
        syscall(SYS_rseq, (char *)__builtin_thread_pointer() + __rseq_offset,
                __rseq_size > RSEQ_REGISTERED_MIN ? __rseq_size : RSEQ_REGISTERED_MIN,
                RSEQ_FLAG_UNREGISTER, RSEQ_SIG))
        die("rseq unregister");
    fd = open("/sys/kernel/debug/pks/conformance", O_RDWR);
    if (fd < 0)
        die("/sys/kernel/debug/pks/conformance");
    version = ioctl(fd, PKC_IOC_VERSION);
    if (version != PKC_VERSION) {
        fprintf(stderr, "pk-conformance: the kernel's case format is version %ld, this "
                        "program's %d\n", version, PKC_VERSION);
        return 3;
    }
    if (ioperm(FAULTLINE_MAILBOX_IOBASE + FAULTLINE_MAILBOX_ICOUNT_LO, 8, 1))
        die("ioperm");
    page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (page == MAP_FAILED)
        die("mmap");
    for (unsigned i = 0; i < PAGE; i += 2)
        *(uint16_t *)(page + i) = JMP_RCX;
    if (mlock(page, PAGE))
        die("mlock");
    uint64_t addr = (uintptr_t)page;
    if (ioctl(fd, PKC_IOC_REGISTER, &addr))
        die("PKC_IOC_REGISTER");
    setvbuf(stdout, NULL, _IOFBF, 1 << 20);
    printf("pk-conformance %d %#lx %u\n", PKC_VERSION, (unsigned long)page,
           PAGES * CASES_PER_PAGE);

    for (unsigned us = 0; us < 2; us++)
        for (unsigned rw = 0; rw < 2; rw++)
            for (unsigned key = 0; key < 16; key++) {
                unsigned pg = (us * 2 + rw) * 16 + key;
                struct pkc_page p = {.user = us, .writable = rw, .key = key};

                if (ioctl(fd, PKC_IOC_SET_PAGE, &p))
                    die("PKC_IOC_SET_PAGE");
                run_cpl0(pg, key, cases);
                run_cpl3(pg, key, p.pte, home);
            }
    close(fd);
    return fflush(stdout) ? 1 : 0;
}
