/*
 * xinuse: which XSAVE components the CPU reports in use (XINUSE), for the
 * precise-xinuse CPU property (qemu-patches/0018, pytests/test_xinuse.py).
 *
 * Each case sets the vector registers and PKRU in one asm block and then,
 * with nothing in between, reads XGETBV 1 and the XSTATE_BV an XSAVE and an
 * XSAVEOPT of every component write:
 *   init   YMM0-15 zeroed (VZEROALL), PKRU 0: SSE, AVX and PKRU in their
 *          initial configuration (SDM vol. 1, 13.6)
 *   pkru   YMM0-15 zeroed, PKRU 0x4 (key 1 access-disabled)
 *   sse    YMM0-15 zeroed, then XMM0 = 1, PKRU 0
 *   avx    YMM0-15 zeroed, then YMM0's upper half all ones, XMM0-15 0, PKRU 0
 * It prints "xcr0 0x..." and a line per case, "CASE xsave 0x... xsaveopt
 * 0x... xgetbv1 0x...", and exits 0 (1 when the CPU lacks XSAVEOPT or
 * XGETBV 1).
 */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define XSAVE_HEADER 512  /* XSTATE_BV: the first 8 bytes of the header */

/* Large enough for every standard-format component up to PKRU (0xa88). */
static uint8_t xsave_area[4096] __attribute__((aligned(64)));
static uint8_t xsaveopt_area[4096] __attribute__((aligned(64)));

enum vector_setup { ZEROED, XMM0_SET, YMM0_HIGH_SET };

struct observation {
    uint64_t xsave_bv, xsaveopt_bv, xgetbv1;
};

static uint64_t xstate_bv(const uint8_t *area)
{
    uint64_t bv;

    memcpy(&bv, area + XSAVE_HEADER, sizeof(bv));
    return bv;
}

static uint32_t rdpkru(void)
{
    uint32_t eax, edx;

    __asm__ volatile("rdpkru" : "=a"(eax), "=d"(edx) : "c"(0));
    return eax;
}

static void wrpkru(uint32_t pkru)
{
    __asm__ volatile("wrpkru" : : "a"(pkru), "c"(0), "d"(0));
}

/*
 * One block from the register set-up to the last read: compiled code in
 * between (or printf) would leave its own values in the XMM registers.
 */
static struct observation observe(enum vector_setup vectors, uint32_t pkru)
{
    uint32_t lo, hi;

    memset(xsave_area, 0, sizeof(xsave_area));
    memset(xsaveopt_area, 0, sizeof(xsaveopt_area));
    __asm__ volatile(
        "vzeroall\n\t"
        "cmpl $1, %[vectors]\n\t"
        "jne 1f\n\t"
        "movl $1, %%eax\n\t"
        "movq %%rax, %%xmm0\n\t"
        "jmp 2f\n"
        "1:\n\t"
        "cmpl $2, %[vectors]\n\t"
        "jne 2f\n\t"
        "vpcmpeqd %%xmm2, %%xmm2, %%xmm2\n\t"
        "vinsertf128 $1, %%xmm2, %%ymm0, %%ymm0\n\t"
        "vpxor %%xmm2, %%xmm2, %%xmm2\n"
        "2:\n\t"
        "movl %[pkru], %%eax\n\t"
        "xorl %%ecx, %%ecx\n\t"
        "xorl %%edx, %%edx\n\t"
        "wrpkru\n\t"
        "movl $-1, %%eax\n\t"
        "movl $-1, %%edx\n\t"
        "xsave64 %[xsave]\n\t"
        "xsaveopt64 %[xsaveopt]\n\t"
        "movl $1, %%ecx\n\t"
        "xgetbv"
        : "=&a"(lo), "=&d"(hi), [xsave] "+m"(xsave_area), [xsaveopt] "+m"(xsaveopt_area)
        : [vectors] "r"(vectors), [pkru] "r"(pkru)
        : "rcx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
          "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
    return (struct observation){xstate_bv(xsave_area), xstate_bv(xsaveopt_area),
                                (uint64_t)hi << 32 | lo};
}

int main(void)
{
    static const struct {
        const char *name;
        enum vector_setup vectors;
        uint32_t pkru;
    } cases[] = {
        {"init", ZEROED, 0},
        {"pkru", ZEROED, 0x4},
        {"sse", XMM0_SET, 0},
        {"avx", YMM0_HIGH_SET, 0},
    };
    unsigned int eax, ebx, ecx, edx;
    uint32_t xcr0_lo, xcr0_hi;

    __cpuid_count(0xd, 1, eax, ebx, ecx, edx);
    if ((eax & 0x5) != 0x5) {
        fprintf(stderr, "xinuse: no XSAVEOPT or XGETBV 1 (CPUID 0xd.1 eax %#x)\n", eax);
        return 1;
    }
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    printf("xcr0 %#llx\n", (unsigned long long)xcr0_hi << 32 | xcr0_lo);

    uint32_t entry_pkru = rdpkru();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct observation o = observe(cases[i].vectors, cases[i].pkru);
        wrpkru(entry_pkru);
        printf("%s xsave %#llx xsaveopt %#llx xgetbv1 %#llx\n", cases[i].name,
               (unsigned long long)o.xsave_bv, (unsigned long long)o.xsaveopt_bv,
               (unsigned long long)o.xgetbv1);
    }
    return 0;
}
