/*
 * syscall-fuzz: random arguments for the faultline guest's own system calls
 * (pkey_get, pkey_set, cpu_opv), mixed with pkey_alloc, pkey_free and WRPKRU
 * so keys keep changing state under them. Meant for the debug kernel
 * (KASAN, lockdep...): the kernel's reports are the verdict; this program
 * checks that every result is one the ABI allows, and for a quarter of the
 * cpu_opv calls more: well-formed vectors whose ranges lie in memory no
 * other thread touches (the calling thread's own pages, the read-only page)
 * are evaluated in user space first (cpu-op-model), and the call must return
 * exactly what the model says and leave exactly the model's bytes behind.
 *
 * usage: syscall-fuzz CALLS SEED [THREADS]
 * CALLS calls in all, spread over THREADS threads (default 2), each with its
 * own generator derived from SEED: the same arguments every run. Prints the
 * count of each result per system call (the exactly checked cpu_opv calls
 * on a line of their own) and each mismatch with the model: the vector, the
 * expected and actual result, the bytes that differ. Exit status 0 when
 * every result was allowed and none mismatched, 1 otherwise, 2 on bad usage.
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

#include "cpu-op-model.h"
#include "cpu-op.h"
#include "pkey-syscalls.h"

#define PAGE 4096
#define RW_PAGES 4
/*
 * Each thread's own pages for the exactly checked vectors. Ranges stay
 * GUARD bytes clear of the ends, so a kernel that writes past a range
 * still writes where the check looks.
 */
#define OWN_PAGES 3
#define GUARD 64
/* Detailed reports per thread; every mismatch is counted. */
#define REPORTS_MAX 3
/* Results counted per call: 0..RESULTS-1 as returned, errnos after them. */
#define RESULTS (CPU_OP_VEC_LEN_MAX + 1)
#define MAX_ERRNO 140

/* CPU_OPV_EXACT: the cpu_opv calls the model also checked, counted twice. */
enum call { PKEY_GET, PKEY_SET, CPU_OPV, CPU_OPV_EXACT, NCALLS };
static const char *const call_names[NCALLS] = { "pkey_get", "pkey_set", "cpu_opv",
                                                "cpu_opv exactly checked" };
static const char *const op_names[] = { "compare_eq", "compare_ne", "memcpy", "add", "or",
                                        "and", "xor", "lshift", "rshift", "mb" };

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

enum { OWN, READ_ONLY, NKNOWN };

struct fuzzer {
    pthread_t thread;
    int id;
    long call;
    uint64_t state;
    /* The memory the model knows: the own pages and the read-only page. */
    struct cpu_op_region known[NKNOWN];
    unsigned char *before[NKNOWN]; /* the known memory before the checked call */
    long results[NCALLS][RESULTS];
    long errors[NCALLS][MAX_ERRNO];
    long other;
    long mismatches;
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

/*
 * len bytes in memory the model knows and no other thread writes: mostly
 * the thread's own pages, now and then the read-only page (a write there
 * fails the whole vector).
 */
static uint64_t known_address(struct fuzzer *f, uint32_t len)
{
    const struct cpu_op_region *r = &f->known[pick(f, 16) ? OWN : READ_ONLY];
    size_t margin = r->writable ? GUARD : 0;

    return r->addr + margin + pick(f, r->size - 2 * margin - len + 1);
}

static uint64_t operand_address(struct fuzzer *f, uint32_t len, int known)
{
    return known ? known_address(f, len) : random_address(f);
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

/*
 * well_formed: an op the kernel accepts, on addresses it may still refuse.
 * known (only with well_formed): on addresses from known_address.
 */
static void random_op(struct fuzzer *f, struct cpu_op *op, int well_formed, int known)
{
    memset(op, 0, sizeof(*op));
    op->op = well_formed || pick(f, 8) ? (int32_t)pick(f, CPU_MB_OP + 1) : (int32_t)next(f);
    op->len = well_formed ? fitting_length(f, op->op) : random_length(f);
    switch (op->op) {
    case CPU_ADD_OP:
        op->u.arithmetic_op.p = operand_address(f, op->len, known);
        op->u.arithmetic_op.count = (int64_t)next(f);
        op->u.arithmetic_op.expect_fault_p = pick(f, 4) == 0;
        break;
    case CPU_OR_OP:
    case CPU_AND_OP:
    case CPU_XOR_OP:
        op->u.bitwise_op.p = operand_address(f, op->len, known);
        op->u.bitwise_op.mask = next(f);
        op->u.bitwise_op.expect_fault_p = pick(f, 4) == 0;
        break;
    case CPU_LSHIFT_OP:
    case CPU_RSHIFT_OP:
        op->u.shift_op.p = operand_address(f, op->len, known);
        op->u.shift_op.bits = well_formed ? pick(f, op->len * 8)
                              : pick(f, 4) ? pick(f, 64) : (uint32_t)next(f);
        op->u.shift_op.expect_fault_p = pick(f, 4) == 0;
        break;
    default:
        /* compare and memcpy share the layout: two addresses, two flags */
        op->u.compare_op.a = operand_address(f, op->len, known);
        op->u.compare_op.b = operand_address(f, op->len, known);
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

static int in_own_pages(const struct fuzzer *f, uint64_t addr)
{
    return addr - f->known[OWN].addr < f->known[OWN].size;
}

static void fill_random(struct fuzzer *f, unsigned char *p, uint32_t len)
{
    for (uint32_t k = 0; k < len; k += 8) {
        uint64_t bytes = next(f);

        memcpy(p + k, &bytes, len - k < 8 ? len - k : 8);
    }
}

/*
 * Before a checked vector: fresh bytes under some of its ranges, and under
 * some compares b made equal to a, so compares go both ways.
 */
static void stir_known_memory(struct fuzzer *f, const struct cpu_op *ops, int cnt)
{
    struct cpu_op_range ranges[2];

    for (int i = 0; i < cnt; i++) {
        int n = cpu_op_ranges(&ops[i], ranges);

        for (int j = 0; j < n; j++) {
            if (pick(f, 2) && in_own_pages(f, ranges[j].addr)) {
                fill_random(f, (unsigned char *)(uintptr_t)ranges[j].addr, ops[i].len);
            }
        }
        if ((ops[i].op == CPU_COMPARE_EQ_OP || ops[i].op == CPU_COMPARE_NE_OP) && pick(f, 2) &&
            in_own_pages(f, ranges[1].addr)) {
            memmove((void *)(uintptr_t)ranges[1].addr, (void *)(uintptr_t)ranges[0].addr,
                    ops[i].len);
        }
    }
}

/* Where addr is: "own+0x1ffc" (own pages), "read-only+0x10", or the number. */
static const char *describe_address(const struct fuzzer *f, uint64_t addr, char buf[64])
{
    for (int k = 0; k < NKNOWN; k++) {
        if (addr - f->known[k].addr < f->known[k].size) {
            snprintf(buf, 64, "%s+%#lx", f->known[k].name,
                     (unsigned long)(addr - f->known[k].addr));
            return buf;
        }
    }
    snprintf(buf, 64, "%#lx", (unsigned long)addr);
    return buf;
}

static const char *describe_result(long result, char buf[64])
{
    if (result < 0) {
        snprintf(buf, 64, "-1 %s", strerrorname_np((int)-result));
    } else if (result > 0) {
        snprintf(buf, 64, "%ld (ops[%ld] failed)", result, result - 1);
    } else {
        snprintf(buf, 64, "0");
    }
    return buf;
}

static void print_op(const struct fuzzer *f, int i, const struct cpu_op *op)
{
    static const char *const range_names[][2] = {
        [CPU_COMPARE_EQ_OP] = { "a", "b" },
        [CPU_COMPARE_NE_OP] = { "a", "b" },
        [CPU_MEMCPY_OP] = { "dst", "src" },
    };
    struct cpu_op_range ranges[2];
    char where[64];
    int n = cpu_op_ranges(op, ranges);

    fprintf(stderr, "  ops[%d] %s len %u", i, op_names[op->op], op->len);
    for (int j = 0; j < n; j++) {
        fprintf(stderr, " %s %s%s", n == 2 ? range_names[op->op][j] : "p",
                describe_address(f, ranges[j].addr, where),
                ranges[j].expect_fault ? " (expect_fault)" : "");
    }
    switch (op->op) {
    case CPU_ADD_OP:
        fprintf(stderr, " count %lld", (long long)op->u.arithmetic_op.count);
        break;
    case CPU_OR_OP:
    case CPU_AND_OP:
    case CPU_XOR_OP:
        fprintf(stderr, " mask %#llx", (unsigned long long)op->u.bitwise_op.mask);
        break;
    case CPU_LSHIFT_OP:
    case CPU_RSHIFT_OP:
        fprintf(stderr, " bits %u", op->u.shift_op.bits);
        break;
    }
    fputc('\n', stderr);
}

/* The vector, both results and the first bytes that differ, as one block. */
static void report_mismatch(struct fuzzer *f, const struct cpu_op *ops, int cnt, int cpu,
                            long expected, long actual)
{
    char where[64], want[64], got[64];

    if (++f->mismatches > REPORTS_MAX) {
        return;
    }
    flockfile(stderr);
    fprintf(stderr, "MISMATCH thread %d call %ld: cpu_opv(%d ops, cpu %d) expected %s, got %s\n",
            f->id, f->call, cnt, cpu, describe_result(expected, want),
            describe_result(actual, got));
    for (int i = 0; i < cnt; i++) {
        print_op(f, i, &ops[i]);
    }
    for (int k = 0; k < NKNOWN; k++) {
        const struct cpu_op_region *r = &f->known[k];
        const unsigned char *now = (const unsigned char *)r->addr;
        long differ = 0;

        for (size_t at = 0; at < r->size; at++) {
            if (now[at] != r->copy[at] && ++differ <= 8) {
                fprintf(stderr, "  byte %s: before %#04x, expected %#04x, got %#04x\n",
                        describe_address(f, r->addr + at, where), f->before[k][at],
                        r->copy[at], now[at]);
            }
        }
        if (differ > 8) {
            fprintf(stderr, "  %ld bytes of %s differ\n", differ, r->name);
        }
    }
    funlockfile(stderr);
}

/*
 * cpu_opv on a vector whose ranges are all known memory: when the model
 * says what the ABI makes of it, the call must return exactly that and
 * leave exactly the model's bytes. Returns as cpu_opv, errno included.
 */
static int checked_cpu_opv(struct fuzzer *f, struct cpu_op *ops, int cnt, int cpu)
{
    long expected, actual;
    int fixed, ret, errnum, same_bytes = 1;

    stir_known_memory(f, ops, cnt);
    for (int k = 0; k < NKNOWN; k++) {
        memcpy(f->before[k], (const void *)f->known[k].addr, f->known[k].size);
        memcpy(f->known[k].copy, f->before[k], f->known[k].size);
    }
    fixed = cpu_op_model_run(ops, cnt, f->known, NKNOWN, &expected);
    ret = cpu_opv(ops, cnt, cpu, 0);
    errnum = errno;
    actual = ret < 0 ? -errnum : ret;
    if (fixed) {
        for (int k = 0; k < NKNOWN; k++) {
            same_bytes &= !memcmp((const void *)f->known[k].addr, f->known[k].copy,
                                  f->known[k].size);
        }
        if (actual != expected || !same_bytes) {
            report_mismatch(f, ops, cnt, cpu, expected, actual);
        }
    }
    /* count() reads errno, here and in the caller. */
    errno = errnum;
    if (fixed) {
        count(f, CPU_OPV_EXACT, ret);
    }
    return ret;
}

static void fuzz_once(struct fuzzer *f)
{
    struct cpu_op ops[CPU_OP_VEC_LEN_MAX + 2];
    unsigned long flags = pick(f, 10) ? 0 : next(f);
    int pkey = random_pkey(f), cnt, well_formed, known;
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
        known = well_formed && pick(f, 2);
        cnt = well_formed ? (int)pick(f, 4) + 1 : (int)pick(f, CPU_OP_VEC_LEN_MAX + 3) - 1;
        for (int i = 0; i < CPU_OP_VEC_LEN_MAX + 2; i++) {
            random_op(f, &ops[i], well_formed, known);
        }
        if (known) {
            count(f, CPU_OPV, checked_cpu_opv(f, ops, cnt, (int)pick(f, ncpus)));
        } else {
            /* Now and then a vector the kernel cannot even read. */
            count(f, CPU_OPV,
                  cpu_opv(well_formed || pick(f, 20) ? ops : (struct cpu_op *)random_address(f),
                          cnt, well_formed ? (int)pick(f, ncpus) : random_cpu(f),
                          well_formed || pick(f, 10) ? 0 : (int)next(f)));
        }
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

    for (f->call = 0; f->call < calls_per_thread; f->call++) {
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
    case CPU_OPV_EXACT:
        return errnum == EINVAL || errnum == EFAULT || errnum == EAGAIN;
    default:
        return errnum == EINVAL || errnum == EBADF;
    }
}

/* The thread's own pages, the shared read-only page, and the copies the checks need. */
static int set_up_known_memory(struct fuzzer *f)
{
    void *own = mmap(NULL, OWN_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);

    f->known[OWN] = (struct cpu_op_region){ "own", (uintptr_t)own, OWN_PAGES * PAGE, 1, NULL };
    f->known[READ_ONLY] = (struct cpu_op_region){ "read-only", (uintptr_t)area + RW_PAGES * PAGE,
                                                  PAGE, 0, NULL };
    for (int k = 0; k < NKNOWN; k++) {
        f->known[k].copy = malloc(f->known[k].size);
        f->before[k] = malloc(f->known[k].size);
        if (!f->known[k].copy || !f->before[k]) {
            return 0;
        }
    }
    return own != MAP_FAILED;
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
        if (!set_up_known_memory(&fuzzers[t])) {
            perror("syscall-fuzz: setup");
            return 2;
        }
    }
    for (long t = 0; t < threads; t++) {
        fuzzers[t].id = (int)t;
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
        total.mismatches += fuzzers[t].mismatches;
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
    printf("mismatches: %ld\n", total.mismatches);
    return ok && !total.other && !total.mismatches ? 0 : 1;
}
