/*
 * syscall-fuzz: random arguments for the faultline guest's own system calls
 * (pkey_get, pkey_set, cpu_opv), mixed with pkey_alloc, pkey_free and WRPKRU
 * so keys keep changing state under them. Meant for the debug kernel
 * (KASAN, lockdep...): the kernel's reports are the verdict; this program
 * only checks that every result is one the ABI allows.
 *
 * usage: syscall-fuzz CALLS SEED [THREADS]
 * CALLS calls in all, spread over THREADS threads (default 2), each with its
 * own generator derived from SEED: the same arguments every run. Prints the
 * count of each result per system call; exit status 0 when every result was
 * allowed, 1 when one was not, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu-op.h"
#include "pkey-syscalls.h"

#define PAGE 4096
#define RW_PAGES 4
/* Results counted per call: 0..RESULTS-1 as returned, errnos after them. */
#define RESULTS (CPU_OP_VEC_LEN_MAX + 1)
#define MAX_ERRNO 140

enum call { PKEY_GET, PKEY_SET, CPU_OPV, NCALLS };
static const char *const call_names[NCALLS] = { "pkey_get", "pkey_set", "cpu_opv" };

/*
 * RW_PAGES read-write pages, then one read-only and one inaccessible page:
 * ranges near the end run from memory the kernel may touch into memory it
 * may not. Only this area is ever handed to cpu_opv, so the fuzzer's own
 * data is never a target.
 */
static char *area;
static char *pkey_page; /* read-write, but under a key that denies access */
static int ncpus;
static long calls_per_thread;

struct fuzzer {
    pthread_t thread;
    uint64_t state;
    long results[NCALLS][RESULTS];
    long errors[NCALLS][MAX_ERRNO];
    long other;
};

static uint64_t next(struct fuzzer *f)
{
    /* xorshift64*: no host or guest randomness, so runs repeat exactly. */
    f->state ^= f->state >> 12;
    f->state ^= f->state << 25;
    f->state ^= f->state >> 27;
    return f->state * 0x2545f4914f6cdd1dull;
}

static long pick(struct fuzzer *f, long n)
{
    return (long)(next(f) % (uint64_t)n);
}

static uint64_t random_address(struct fuzzer *f)
{
    switch (pick(f, 10)) {
    case 0:
        return 0;
    case 1:
        return (uintptr_t)area + (RW_PAGES + 2) * PAGE + pick(f, PAGE); /* never mapped */
    case 2:
        return 0xffffffff81000000ull + pick(f, 1 << 20); /* kernel text */
    case 3:
        return 0x0000800000000000ull - pick(f, 16); /* the end of user space */
    case 4:
        return (uintptr_t)pkey_page + pick(f, PAGE);
    default:
        return (uintptr_t)area + pick(f, (RW_PAGES + 2) * PAGE);
    }
}

static uint32_t random_length(struct fuzzer *f)
{
    static const uint32_t lengths[] = { 0, 1, 2, 3, 4, 8, 16, 64, 4095, 4096, 4097, 1u << 31 };

    return pick(f, 4) ? lengths[pick(f, sizeof(lengths) / sizeof(lengths[0]))]
                      : (uint32_t)next(f);
}

/* A length the op type accepts, so the vector gets past the checks. */
static uint32_t fitting_length(struct fuzzer *f, int32_t type)
{
    switch (type) {
    case CPU_COMPARE_EQ_OP:
    case CPU_COMPARE_NE_OP:
    case CPU_MEMCPY_OP:
        return pick(f, 8) ? (uint32_t)pick(f, 65) : CPU_OP_DATA_LEN_MAX;
    default:
        return 1u << pick(f, 4);
    }
}

/* well_formed: an op the kernel accepts, on addresses it may still refuse. */
static void random_op(struct fuzzer *f, struct cpu_op *op, int well_formed)
{
    memset(op, 0, sizeof(*op));
    op->op = well_formed || pick(f, 8) ? (int32_t)pick(f, CPU_MB_OP + 1) : (int32_t)next(f);
    op->len = well_formed ? fitting_length(f, op->op) : random_length(f);
    switch (op->op) {
    case CPU_ADD_OP:
        op->u.arithmetic_op.p = random_address(f);
        op->u.arithmetic_op.count = (int64_t)next(f);
        op->u.arithmetic_op.expect_fault_p = pick(f, 4) == 0;
        break;
    case CPU_OR_OP:
    case CPU_AND_OP:
    case CPU_XOR_OP:
        op->u.bitwise_op.p = random_address(f);
        op->u.bitwise_op.mask = next(f);
        op->u.bitwise_op.expect_fault_p = pick(f, 4) == 0;
        break;
    case CPU_LSHIFT_OP:
    case CPU_RSHIFT_OP:
        op->u.shift_op.p = random_address(f);
        op->u.shift_op.bits = well_formed ? pick(f, op->len * 8)
                              : pick(f, 4) ? pick(f, 64) : (uint32_t)next(f);
        op->u.shift_op.expect_fault_p = pick(f, 4) == 0;
        break;
    default:
        /* compare and memcpy share the layout: two addresses, two flags */
        op->u.compare_op.a = random_address(f);
        op->u.compare_op.b = random_address(f);
        op->u.compare_op.expect_fault_a = pick(f, 4) == 0;
        op->u.compare_op.expect_fault_b = pick(f, 4) == 0;
    }
}

static int random_cpu(struct fuzzer *f)
{
    return pick(f, 8) ? (int)pick(f, ncpus) : (int)pick(f, ncpus + 4) - 2;
}

/* Keys -2..17: unallocated, allocated, out of range; never key 0's access. */
static int random_pkey(struct fuzzer *f)
{
    return (int)pick(f, 20) - 2;
}

static void count(struct fuzzer *f, enum call call, long ret)
{
    if (ret >= 0 && ret < RESULTS) {
        f->results[call][ret]++;
    } else if (ret == -1 && errno > 0 && errno < MAX_ERRNO) {
        f->errors[call][errno]++;
    } else {
        f->other++;
    }
}

static void fuzz_once(struct fuzzer *f)
{
    struct cpu_op ops[CPU_OP_VEC_LEN_MAX + 2];
    unsigned long flags = pick(f, 10) ? 0 : next(f);
    int pkey = random_pkey(f), cnt, well_formed;
    long r = pick(f, 100);

    if (r < 30) {
        count(f, PKEY_GET, sys_pkey_get(pkey, flags));
    } else if (r < 60) {
        /* Denying key 0 would take the fuzzer's own memory away. */
        unsigned long rights = pkey == 0 ? 0 : pick(f, 5) ? (uint64_t)pick(f, 4) : next(f);

        count(f, PKEY_SET, sys_pkey_set(pkey, rights, flags));
    } else if (r < 95) {
        /* Half the vectors pass the checks, so pinning and running get their share. */
        well_formed = pick(f, 2);
        cnt = well_formed ? (int)pick(f, 4) + 1 : (int)pick(f, CPU_OP_VEC_LEN_MAX + 3) - 1;
        for (int i = 0; i < CPU_OP_VEC_LEN_MAX + 2; i++) {
            random_op(f, &ops[i], well_formed);
        }
        /* Now and then a vector the kernel cannot even read. */
        count(f, CPU_OPV, cpu_opv(well_formed || pick(f, 20) ? ops
                                                             : (struct cpu_op *)random_address(f),
                                  cnt, well_formed ? (int)pick(f, ncpus) : random_cpu(f),
                                  well_formed || pick(f, 10) ? 0 : (int)next(f)));
    } else if (r < 97) {
        pkey_alloc(0, pick(f, 4));
    } else if (r < 99) {
        pkey_free((int)pick(f, 15) + 1);
    } else {
        /* Behind the kernel's back, as a buggy library would (the watchdog's case). */
        pkey_set((int)pick(f, 15) + 1, pick(f, 4));
    }
}

static void *fuzz(void *arg)
{
    struct fuzzer *f = arg;

    for (long i = 0; i < calls_per_thread; i++) {
        fuzz_once(f);
    }
    return NULL;
}

/* What each call's ABI allows it to return: a value, or -1 and an errno. */
static int value_allowed(enum call call, int value)
{
    switch (call) {
    case PKEY_GET:
        return value <= (PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE);
    case PKEY_SET:
        return value == 0;
    default:
        return value <= CPU_OP_VEC_LEN_MAX; /* 0, or 1 + the index of a failed compare */
    }
}

static int errno_allowed(enum call call, int errnum)
{
    switch (call) {
    case CPU_OPV:
        return errnum == EINVAL || errnum == EFAULT || errnum == EAGAIN;
    default:
        return errnum == EINVAL || errnum == EBADF;
    }
}

int main(int argc, char **argv)
{
    static struct fuzzer total;
    struct fuzzer *fuzzers;
    long calls, threads = argc > 3 ? atol(argv[3]) : 2;
    uint64_t seed;
    int ok = 1, key;

    if (argc < 3 || (calls = atol(argv[1])) < 1 || threads < 1) {
        fprintf(stderr, "usage: syscall-fuzz CALLS SEED [THREADS]\n");
        return 2;
    }
    seed = strtoull(argv[2], NULL, 0);
    ncpus = sysconf(_SC_NPROCESSORS_ONLN);
    calls_per_thread = (calls + threads - 1) / threads;
    area = mmap(NULL, (RW_PAGES + 3) * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                -1, 0);
    pkey_page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    key = pkey_alloc(0, PKEY_DISABLE_ACCESS);
    if (area == MAP_FAILED || pkey_page == MAP_FAILED || key < 0 ||
        mprotect(area + RW_PAGES * PAGE, PAGE, PROT_READ) ||
        mprotect(area + (RW_PAGES + 1) * PAGE, PAGE, PROT_NONE) ||
        munmap(area + (RW_PAGES + 2) * PAGE, PAGE) ||
        pkey_mprotect(pkey_page, PAGE, PROT_READ | PROT_WRITE, key)) {
        perror("syscall-fuzz: setup");
        return 2;
    }

    fuzzers = calloc(threads, sizeof(*fuzzers));
    for (long t = 0; t < threads; t++) {
        fuzzers[t].state = seed * 0x9e3779b97f4a7c15ull + (uint64_t)t + 1;
        pthread_create(&fuzzers[t].thread, NULL, fuzz, &fuzzers[t]);
    }
    for (long t = 0; t < threads; t++) {
        pthread_join(fuzzers[t].thread, NULL);
        for (int c = 0; c < NCALLS; c++) {
            for (int i = 0; i < RESULTS; i++) {
                total.results[c][i] += fuzzers[t].results[c][i];
            }
            for (int e = 0; e < MAX_ERRNO; e++) {
                total.errors[c][e] += fuzzers[t].errors[c][e];
            }
        }
        total.other += fuzzers[t].other;
    }

    printf("calls %ld, seed %#lx, %ld threads\n", calls_per_thread * threads,
           (unsigned long)seed, threads);
    for (int c = 0; c < NCALLS; c++) {
        long n = 0;

        printf("%s:", call_names[c]);
        for (int i = 0; i < RESULTS; i++) {
            if (total.results[c][i]) {
                printf(" %d=%ld", i, total.results[c][i]);
                n += total.results[c][i];
                ok &= value_allowed(c, i);
            }
        }
        for (int e = 0; e < MAX_ERRNO; e++) {
            if (total.errors[c][e]) {
                printf(" %s=%ld", strerrorname_np(e), total.errors[c][e]);
                n += total.errors[c][e];
                ok &= errno_allowed(c, e);
            }
        }
        printf(" (%ld)\n", n);
    }
    printf("unexpected: %ld\n", total.other);
    return ok && !total.other ? 0 : 1;
}
