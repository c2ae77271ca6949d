/*
 * cpu-opv: checks the faultline guest kernel's cpu_opv system call through
 * the cpu-op library: every op, the compare-failure index, the limits and
 * every error. One line per check (checks.h); exit status 0 when all pass.
 *
 * usage: cpu-opv [offline]   (offline: also take CPU 1 offline through
 * sysfs, check a vector for it still runs, and bring it back)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "checks.h"
#include "cpu-op.h"
#include "rseq-cs.h"

#define PAGE 4096
#define CPU1_ONLINE "/sys/devices/system/cpu/cpu1/online"

/* Three pages: ranges and words that straddle the first boundary live here. */
static char *area;

static int run(struct cpu_op *ops, int cnt)
{
    return cpu_opv(ops, cnt, sched_getcpu(), 0);
}

static int run_one(struct cpu_op op)
{
    return run(&op, 1);
}

/* The result of one word op on a len-byte value. */
static uint64_t word_result(enum cpu_op_type type, uint32_t len, uint64_t value, uint64_t operand)
{
    uint64_t word = 0;
    int ret;

    memcpy(&word, &value, len);
    ret = run_one(cpu_op_word(type, &word, len, operand));
    return ret == 0 ? word : (uint64_t)0xdeadbeefcafe;
}

static void check_word_ops(void)
{
    uint8_t bytes[3] = { 0x11, 250, 0x33 };
    uint64_t *straddling = (uint64_t *)(area + PAGE - 4);

    check("add_1", word_result(CPU_ADD_OP, 1, 250, 10) == 4, "wrap of a byte");
    check("add_2", word_result(CPU_ADD_OP, 2, 0xfffe, 3) == 1, "wrap of 16 bits");
    check("add_4", word_result(CPU_ADD_OP, 4, 7, (uint64_t)-8) == 0xffffffff, "7 - 8 on 32 bits");
    check("add_8", word_result(CPU_ADD_OP, 8, 1ull << 40, 5) == (1ull << 40) + 5, "64-bit add");
    check("or", word_result(CPU_OR_OP, 4, 0xf0, 0x0f0f) == 0x0fff, "0xf0 | 0x0f0f");
    check("and", word_result(CPU_AND_OP, 8, 0xff00ff00ff, 0xffff) == 0xff, "mask");
    check("xor", word_result(CPU_XOR_OP, 2, 0xaaaa, 0xffff) == 0x5555, "xor 16 bits");
    check("lshift", word_result(CPU_LSHIFT_OP, 1, 0x81, 1) == 0x02, "bit 7 drops out of a byte");
    check("rshift_is_logical", word_result(CPU_RSHIFT_OP, 8, 1ull << 63, 63) == 1,
          "1 << 63 >> 63");

    run_one(cpu_op_word(CPU_ADD_OP, &bytes[1], 1, 10));
    check("add_leaves_neighbours", bytes[0] == 0x11 && bytes[1] == 4 && bytes[2] == 0x33,
          "%02x %02x %02x", bytes[0], bytes[1], bytes[2]);

    memcpy(straddling, &(uint64_t){ 0x0102030405060708 }, 8);
    run_one(cpu_op_word(CPU_ADD_OP, straddling, 8, 0x1010101010101010));
    check("add_word_straddling_pages", *straddling == 0x1112131415161718, "%#lx",
          (unsigned long)*straddling);
}

static void check_compare_and_copy(void)
{
    intptr_t x = 5, y = 5, z = 6, counter = 0;
    char *src = area + PAGE - 100, *dst = area + 2 * PAGE - 100;
    struct cpu_op ops[3];
    int ret;

    check("empty_vector", cpu_opv(NULL, 0, sched_getcpu(), 0) == 0, "nothing to run");
    check("compare_eq_equal", run_one(cpu_op_compare(CPU_COMPARE_EQ_OP, &x, &y, 8)) == 0,
          "5 == 5");
    check("compare_eq_differs", run_one(cpu_op_compare(CPU_COMPARE_EQ_OP, &x, &z, 8)) == 1,
          "5 == 6");
    check("compare_ne_differs", run_one(cpu_op_compare(CPU_COMPARE_NE_OP, &x, &z, 8)) == 0,
          "5 != 6");
    check("compare_ne_equal", run_one(cpu_op_compare(CPU_COMPARE_NE_OP, &x, &y, 8)) == 1,
          "5 != 5");

    /* A failed compare stops the vector: what ran before it stays, nothing after runs. */
    ops[0] = cpu_op_word(CPU_ADD_OP, &counter, 8, 1);
    ops[1] = cpu_op_compare(CPU_COMPARE_EQ_OP, &x, &z, 8);
    ops[2] = cpu_op_word(CPU_ADD_OP, &counter, 8, 100);
    ret = run(ops, 3);
    check("failed_compare_returns_its_index_plus_1", ret == 2 && counter == 1,
          "returned %d, counter %ld (want 2 and 1)", ret, (long)counter);

    for (int i = 0; i < CPU_OP_DATA_LEN_MAX; i++) {
        src[i] = (char)(i * 7 + 1);
    }
    ret = run_one(cpu_op_memcpy(dst, src, CPU_OP_DATA_LEN_MAX));
    check("memcpy_page_straddling", ret == 0 && !memcmp(dst, src, CPU_OP_DATA_LEN_MAX),
          "returned %d", ret);
    check("compare_long_equal",
          run_one(cpu_op_compare(CPU_COMPARE_EQ_OP, dst, src, CPU_OP_DATA_LEN_MAX)) == 0,
          "4096 equal bytes");
    dst[CPU_OP_DATA_LEN_MAX - 1]++;
    check("compare_long_last_byte_differs",
          run_one(cpu_op_compare(CPU_COMPARE_EQ_OP, dst, src, CPU_OP_DATA_LEN_MAX)) == 1,
          "4096 bytes, the last differs");
    check("memcpy_zero_length", run_one(cpu_op_memcpy(NULL, NULL, 0)) == 0,
          "a zero-length copy touches nothing");
    check("barrier", run_one(cpu_op_barrier()) == 0, "MB op");
}

static void check_helpers(void)
{
    intptr_t word = 40, slot = 0, payload = 0x5a5a;
    int cpu = sched_getcpu();
    struct cpu_op ops[CPU_OP_VEC_LEN_MAX];
    int ret;

    check("cpu_op_add", cpu_op_add(cpu, &word, 2) == 0 && word == 42, "word %ld", (long)word);
    check("cpu_op_cmpxchg_stores", cpu_op_cmpxchg(cpu, &word, 42, 7) == 0 && word == 7,
          "word %ld", (long)word);
    check("cpu_op_cmpxchg_differs", cpu_op_cmpxchg(cpu, &word, 42, 9) == 1 && word == 7,
          "word %ld", (long)word);
    ret = cpu_op_cmpeqv_memcpy_storev(cpu, &word, 7, &slot, &payload, sizeof(slot), 8);
    check("cpu_op_cmpeqv_memcpy_storev", ret == 0 && slot == payload && word == 8,
          "returned %d, slot %#lx, word %ld", ret, (long)slot, (long)word);

    for (int i = 0; i < CPU_OP_VEC_LEN_MAX; i++) {
        ops[i] = cpu_op_word(CPU_ADD_OP, &word, 8, 1);
    }
    ret = run(ops, CPU_OP_VEC_LEN_MAX);
    check("sixteen_ops", ret == 0 && word == 8 + 16, "returned %d, word %ld", ret, (long)word);
}

static void check_limits(void)
{
    intptr_t word = 0;
    struct cpu_op ops[CPU_OP_VEC_LEN_MAX + 1];
    int ret;

    for (int i = 0; i <= CPU_OP_VEC_LEN_MAX; i++) {
        ops[i] = cpu_op_word(CPU_ADD_OP, &word, 8, 1);
    }
    check_error("seventeen_ops_einval", run(ops, CPU_OP_VEC_LEN_MAX + 1), EINVAL);
    check_error("negative_count_einval", run(ops, -1), EINVAL);
    check_error("flags_einval", cpu_opv(ops, 1, sched_getcpu(), 1), EINVAL);
    ops[0].op = CPU_MB_OP + 1;
    check_error("unknown_op_einval", run(ops, 1), EINVAL);
    check_error("memcpy_4097_einval", run_one(cpu_op_memcpy(area, area + PAGE, 4097)), EINVAL);
    check_error("compare_4097_einval",
                run_one(cpu_op_compare(CPU_COMPARE_EQ_OP, area, area + PAGE, 4097)), EINVAL);
    check_error("add_length_3_einval", run_one(cpu_op_word(CPU_ADD_OP, &word, 3, 1)), EINVAL);
    check_error("shift_by_width_einval", run_one(cpu_op_word(CPU_LSHIFT_OP, &word, 4, 32)),
                EINVAL);

    /* The vector total: one page-sized copy and 15 words fit, a second copy does not. */
    ops[0] = cpu_op_memcpy(area + PAGE, area, CPU_OP_DATA_LEN_MAX);
    for (int i = 1; i < CPU_OP_VEC_LEN_MAX; i++) {
        ops[i] = cpu_op_word(CPU_ADD_OP, &word, 8, 1);
    }
    ret = run(ops, CPU_OP_VEC_LEN_MAX);
    check("vector_of_4216_bytes_runs", ret == 0 && word == 15, "returned %d, word %ld", ret,
          (long)word);
    ops[1] = cpu_op_memcpy(area + PAGE, area, CPU_OP_DATA_LEN_MAX);
    check_error("vector_over_4216_bytes_einval", run(ops, 2), EINVAL);
}

static void check_faults(void)
{
    intptr_t word = 3;
    char *gone = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *readonly = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct cpu_op ops[2], op;
    int key, ret;

    munmap(gone, PAGE);
    check_error("null_vector_efault", cpu_opv(NULL, 1, sched_getcpu(), 0), EFAULT);
    check_error("null_pointer_efault", run_one(cpu_op_word(CPU_ADD_OP, NULL, 8, 1)), EFAULT);
    check_error("unmapped_pointer_efault", run_one(cpu_op_word(CPU_ADD_OP, gone, 8, 1)), EFAULT);
    check_error("write_to_read_only_efault", run_one(cpu_op_word(CPU_ADD_OP, readonly, 8, 1)),
                EFAULT);
    check("read_from_read_only_runs",
          run_one(cpu_op_compare(CPU_COMPARE_EQ_OP, readonly, readonly + 8, 8)) == 0,
          "compare of two zero words on a read-only page");

    /* Every range is pinned before the first op runs: a bad one leaves the rest untouched. */
    ops[0] = cpu_op_word(CPU_ADD_OP, &word, 8, 1);
    ops[1] = cpu_op_word(CPU_ADD_OP, gone, 8, 1);
    ret = run(ops, 2);
    check("fault_runs_nothing", ret == -1 && errno == EFAULT && word == 3,
          "returned %d, word %ld", ret, (long)word);

    op = cpu_op_word(CPU_ADD_OP, gone, 8, 1);
    op.u.arithmetic_op.expect_fault_p = 1;
    check_error("expected_fault_eagain", run_one(op), EAGAIN);
    op.u.arithmetic_op.p = (uintptr_t)&word;
    check("expect_fault_on_mapped_memory_runs", run_one(op) == 0 && word == 4, "word %ld",
          (long)word);
    op = cpu_op_memcpy(&word, gone, 8);
    op.u.memcpy_op.expect_fault_src = 1;
    check_error("expected_fault_on_source_eagain", run_one(op), EAGAIN);

    /* The kernel honours the caller's protection keys. */
    key = pkey_alloc(0, PKEY_DISABLE_ACCESS);
    pkey_mprotect(area + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE, key);
    check_error("pkey_denied_memory_efault",
                run_one(cpu_op_word(CPU_ADD_OP, area + 2 * PAGE, 8, 1)), EFAULT);
    pkey_free(key);
}

/*
 * A thread pinned to one CPU that keeps incrementing that CPU's counter
 * through an rseq sequence with a wide window between load and store. A
 * vector that adds to the counter is kept only if it preempts the sequence,
 * that is, runs on that CPU: run anywhere else, the sequence's store lands
 * after it and the add is lost.
 */
struct incrementer {
    intptr_t counter;
    pthread_t thread;
    int cpu;
    long commits;
} __attribute__((aligned(64)));

static volatile int incrementers_stop;

static void *increment_on_own_cpu(void *arg)
{
    struct incrementer *inc = arg;

    pin_to(inc->cpu);
    while (!incrementers_stop) {
        if (!rseq_increment_slowly(&inc->counter, inc->cpu, 1000)) {
            __atomic_add_fetch(&inc->commits, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

static void check_each_vector_runs_on_its_cpu(int ncpus)
{
    enum { VECTORS_PER_CPU = 20, ADD = 1000 };
    struct incrementer incs[CPU_SETSIZE] = { 0 };
    char why[256] = "";
    int failures = 0;

    incrementers_stop = 0;
    for (int cpu = 0; cpu < ncpus; cpu++) {
        incs[cpu].cpu = cpu;
        pthread_create(&incs[cpu].thread, NULL, increment_on_own_cpu, &incs[cpu]);
    }
    for (int cpu = 0; cpu < ncpus; cpu++) {
        while (!__atomic_load_n(&incs[cpu].commits, __ATOMIC_RELAXED)) {
            sched_yield();
        }
    }
    for (int cpu = 0; cpu < ncpus; cpu++) {
        for (int i = 0; i < VECTORS_PER_CPU; i++) {
            failures += cpu_op_add(cpu, &incs[cpu].counter, ADD) != 0;
        }
    }
    incrementers_stop = 1;
    for (int cpu = 0; cpu < ncpus; cpu++) {
        long want;

        pthread_join(incs[cpu].thread, NULL);
        want = incs[cpu].commits + VECTORS_PER_CPU * ADD;
        if (incs[cpu].counter != want) {
            snprintf(why + strlen(why), sizeof(why) - strlen(why),
                     "CPU %d: counter %ld, want %ld (%ld commits + %d vectors of %d); ", cpu,
                     (long)incs[cpu].counter, want, incs[cpu].commits, VECTORS_PER_CPU, ADD);
        }
    }
    check("every_cpu_runs_its_vectors", !failures && !why[0], "%d calls failed; %s", failures,
          why);
}

/*
 * Another thread of the caller changes its allowed CPUs all the time:
 * every vector still runs, none answers EAGAIN, and the mask the other
 * thread set is the one in force after each of its changes.
 */
struct affinity_churn {
    pid_t target;
    volatile int stop;
    long changes, overwritten;
};

static void *churn_affinity(void *arg)
{
    struct affinity_churn *churn = arg;
    cpu_set_t set, seen;

    pin_to(1);
    while (!churn->stop) {
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        if (churn->changes % 2) {
            CPU_SET(1, &set);
        }
        sched_setaffinity(churn->target, sizeof(set), &set);
        sched_getaffinity(churn->target, sizeof(seen), &seen);
        churn->overwritten += !CPU_EQUAL(&set, &seen);
        churn->changes++;
    }
    return NULL;
}

static void check_vectors_under_affinity_churn(int ncpus)
{
    enum { CALLS = 400 };
    struct affinity_churn churn = { .target = gettid() };
    intptr_t word = 0;
    long again = 0, failed = 0;
    pthread_t thread;

    pthread_create(&thread, NULL, churn_affinity, &churn);
    for (int i = 0; i < CALLS; i++) {
        struct cpu_op op = cpu_op_word(CPU_ADD_OP, &word, 8, 1);

        if (cpu_opv(&op, 1, i % ncpus, 0)) {
            again += errno == EAGAIN;
            failed += errno != EAGAIN;
        }
    }
    churn.stop = 1;
    pthread_join(thread, NULL);
    check("vectors_complete_while_affinity_changes", !again && !failed && word == CALLS,
          "%ld EAGAIN and %ld other failures in %d calls, word %ld", again, failed, CALLS,
          (long)word);
    check("affinity_changes_during_vectors_are_kept", churn.overwritten == 0,
          "%ld of %ld changes read back otherwise", churn.overwritten, churn.changes);
}

/* Another thread reads the caller's mask while the caller's vectors run everywhere. */
struct affinity_watch {
    pid_t target;
    cpu_set_t want;
    volatile int stop;
    long reads, changed;
};

static void *watch_affinity(void *arg)
{
    struct affinity_watch *watch = arg;
    cpu_set_t seen;

    pin_to(1);
    while (!watch->stop) {
        sched_getaffinity(watch->target, sizeof(seen), &seen);
        watch->changed += !CPU_EQUAL(&seen, &watch->want);
        watch->reads++;
    }
    return NULL;
}

static void check_mask_never_seen_changed(int ncpus)
{
    enum { CALLS = 400 };
    struct affinity_watch watch = { .target = gettid() };
    intptr_t word = 0;
    pthread_t thread;

    pin_to(0);
    sched_getaffinity(0, sizeof(watch.want), &watch.want);
    pthread_create(&thread, NULL, watch_affinity, &watch);
    for (int i = 0; i < CALLS; i++) {
        cpu_op_add(i % ncpus, &word, 1);
    }
    watch.stop = 1;
    pthread_join(thread, NULL);
    check("affinity_unchanged_while_vectors_run", watch.changed == 0 && word == CALLS,
          "another thread saw a changed mask %ld times in %ld reads, word %ld", watch.changed,
          watch.reads, (long)word);
}

static void check_cpus(void)
{
    intptr_t word = 0;
    cpu_set_t before, after;
    long ncpus = sysconf(_SC_NPROCESSORS_CONF);

    check_error("cpu_the_machine_lacks_einval", cpu_op_add(ncpus, &word, 1), EINVAL);
    check_error("cpu_far_out_of_range_einval", cpu_op_add(1 << 20, &word, 1), EINVAL);
    check_error("negative_cpu_einval", cpu_op_add(-1, &word, 1), EINVAL);

    /* The caller stays where it is allowed to be, with its mask as it was. */
    pin_to(0);
    sched_getaffinity(0, sizeof(before), &before);
    check_each_vector_runs_on_its_cpu(ncpus);
    sched_getaffinity(0, sizeof(after), &after);
    check("affinity_survives", CPU_EQUAL(&before, &after) && sched_getcpu() == 0,
          "mask or CPU changed (now on CPU %d)", sched_getcpu());
    check_vectors_under_affinity_churn(ncpus);
    check_mask_never_seen_changed(ncpus);
}

/*
 * cpu_op_cmpxchg(0 -> CMPXCHG_NEW) on a word of a never-written page, for
 * CPU 1, while a thread there stores WRITER_VALUE into it after a delay
 * that changes every round. Either order is right: the store first (the
 * compare fails, the store stays) or the vector first (it stores, then the
 * writer overwrites it). Reported success with CMPXCHG_NEW left in the
 * word means the compare read another page than the one the store went to.
 */
enum { FRESH_ROUNDS = 400, WRITER_VALUE = 7, CMPXCHG_NEW = 9 };

struct fresh_race {
    intptr_t *volatile word;
    volatile int round, stored;
};

static void *store_after_a_delay(void *arg)
{
    struct fresh_race *race = arg;

    pin_to(1);
    for (int round = 1; round <= FRESH_ROUNDS; round++) {
        while (race->round != round) {
        }
        for (volatile long spin = round * 7919 % 4000; spin > 0; spin--) {
        }
        *race->word = WRITER_VALUE;
        race->stored = round;
    }
    return NULL;
}

static void check_cmpxchg_on_fresh_memory(void)
{
    struct fresh_race race = { 0 };
    long store_first = 0, vector_first = 0, lost = 0, other = 0;
    pthread_t thread;

    pin_to(0);
    pthread_create(&thread, NULL, store_after_a_delay, &race);
    for (int round = 1; round <= FRESH_ROUNDS; round++) {
        intptr_t *word = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                              -1, 0);
        int ret;

        race.word = word;
        race.round = round;
        ret = cpu_op_cmpxchg(1, word, 0, CMPXCHG_NEW);
        while (race.stored != round) {
        }
        if (ret == 1 && *word == WRITER_VALUE) {
            store_first++;
        } else if (ret == 0 && *word == WRITER_VALUE) {
            vector_first++;
        } else if (ret == 0 && *word == CMPXCHG_NEW) {
            lost++;
        } else {
            other++;
        }
        munmap(word, PAGE);
    }
    pthread_join(thread, NULL);
    check("cmpxchg_on_fresh_memory_loses_no_store",
          !lost && !other && store_first && vector_first,
          "%ld stores lost, %ld other outcomes; store first %ld, vector first %ld times", lost,
          other, store_first, vector_first);
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    return f && fputs(text, f) >= 0 && fclose(f) == 0 ? 0 : -1;
}

static void check_offline_cpu(void)
{
    intptr_t word = 0;
    int ret;

    if (write_text(CPU1_ONLINE, "0")) {
        check("offline_cpu_runs_vector", 0, "cannot take CPU 1 offline: %s", strerror(errno));
        return;
    }
    ret = cpu_op_add(1, &word, 5);
    check("offline_cpu_runs_vector", ret == 0 && word == 5, "returned %d (%s), word %ld", ret,
          strerror(errno), (long)word);
    check("offline_cpu_stays_offline", sysconf(_SC_NPROCESSORS_ONLN) == 1, "%ld CPUs online",
          sysconf(_SC_NPROCESSORS_ONLN));
    check("cpu_back_online", write_text(CPU1_ONLINE, "1") == 0 && cpu_op_add(1, &word, 1) == 0 &&
          word == 6, "word %ld", (long)word);
}

int main(int argc, char **argv)
{
    area = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) {
        printf("setup: FAIL mmap\n");
        return 2;
    }
    check_word_ops();
    check_compare_and_copy();
    check_helpers();
    check_limits();
    check_faults();
    check_cpus();
    check_cmpxchg_on_fresh_memory();
    if (argc > 1 && !strcmp(argv[1], "offline")) {
        check_offline_cpu();
    }
    return checks_failed;
}
