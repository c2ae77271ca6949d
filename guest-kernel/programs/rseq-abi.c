/*
 * rseq-abi: checks the extensible rseq ABI the kernel offers and the fields
 * it keeps current in glibc's registered area.
 *
 * - AT_RSEQ_FEATURE_SIZE and AT_RSEQ_ALIGN are in the auxiliary vector, and
 *   the feature size covers node_id and mm_cid (28 bytes);
 * - after the thread moves to each CPU in turn, cpu_id_start, cpu_id and
 *   node_id match what getcpu() says, and mm_cid is a valid concurrency id;
 * - threads running at once on different CPUs hold different mm_cids.
 * Prints one line per check; exit 0 all hold, 1 one failed, 2 setup failed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE 27
#define AT_RSEQ_ALIGN 28
#endif

/* Linux 6.3+ fields past glibc 2.36's struct rseq, inside the original 32 bytes. */
#define RSEQ_NODE_ID_OFFSET 20
#define RSEQ_MM_CID_OFFSET 24
#define RSEQ_FEATURE_SIZE_WITH_MM_CID 28

static int ncpus;
static int failures;
static pthread_barrier_t all_placed, all_read;

static uint32_t rseq_field(size_t offset)
{
    const char *area = (const char *)__builtin_thread_pointer() + __rseq_offset;

    return __atomic_load_n((const uint32_t *)(area + offset), __ATOMIC_RELAXED);
}

static void check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    failures += !ok;
}

static int move_to(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set);
}

static void *hold_cpu(void *arg)
{
    int cpu = (int)(intptr_t)arg;
    uint32_t *cid = malloc(sizeof(*cid));

    if (move_to(cpu)) {
        exit(2);
    }
    pthread_barrier_wait(&all_placed);
    *cid = rseq_field(RSEQ_MM_CID_OFFSET);
    pthread_barrier_wait(&all_read);
    return cid;
}

int main(void)
{
    unsigned long feature_size = getauxval(AT_RSEQ_FEATURE_SIZE);
    unsigned long align = getauxval(AT_RSEQ_ALIGN);
    char line[160];

    ncpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (__rseq_size == 0) {
        fprintf(stderr, "rseq-abi: glibc did not register rseq\n");
        return 2;
    }
    snprintf(line, sizeof(line), "AT_RSEQ_FEATURE_SIZE %lu covers mm_cid (>= %d)", feature_size,
             RSEQ_FEATURE_SIZE_WITH_MM_CID);
    check(feature_size >= RSEQ_FEATURE_SIZE_WITH_MM_CID, line);
    snprintf(line, sizeof(line), "AT_RSEQ_ALIGN %lu is a power of two >= 32", align);
    check(align >= 32 && (align & (align - 1)) == 0, line);
    /* glibc 2.36 registers the original 32-byte area and reports 20 bytes in use. */
    snprintf(line, sizeof(line), "glibc registered rseq (__rseq_size %u, TLS offset %td)",
             __rseq_size, __rseq_offset);
    check(__rseq_size >= offsetof(struct rseq, flags) + 4, line);

    for (int cpu = 0; cpu < ncpus; cpu++) {
        unsigned int now_cpu, now_node;
        uint32_t start, id, node, cid;

        if (move_to(cpu)) {
            perror("rseq-abi: sched_setaffinity");
            return 2;
        }
        syscall(SYS_getcpu, &now_cpu, &now_node, NULL);
        start = rseq_field(offsetof(struct rseq, cpu_id_start));
        id = rseq_field(offsetof(struct rseq, cpu_id));
        node = rseq_field(RSEQ_NODE_ID_OFFSET);
        cid = rseq_field(RSEQ_MM_CID_OFFSET);
        snprintf(line, sizeof(line),
                 "on cpu %u (node %u): cpu_id_start %u cpu_id %u node_id %u mm_cid %u", now_cpu,
                 now_node, start, id, node, cid);
        check(now_cpu == (unsigned)cpu && start == now_cpu && id == now_cpu && node == now_node &&
                  cid < (uint32_t)ncpus,
              line);
    }

    /* One thread per CPU at once: their concurrency ids must differ. */
    pthread_barrier_init(&all_placed, NULL, ncpus);
    pthread_barrier_init(&all_read, NULL, ncpus);
    {
        pthread_t threads[CPU_SETSIZE];
        uint64_t seen = 0;
        int distinct = 1;

        for (int cpu = 0; cpu < ncpus; cpu++) {
            pthread_create(&threads[cpu], NULL, hold_cpu, (void *)(intptr_t)cpu);
        }
        for (int cpu = 0; cpu < ncpus; cpu++) {
            uint32_t *cid;

            pthread_join(threads[cpu], (void **)&cid);
            distinct &= *cid < 64 && !(seen & (1ull << *cid));
            seen |= 1ull << (*cid & 63);
            free(cid);
        }
        snprintf(line, sizeof(line), "%d threads on %d cpus hold distinct mm_cids", ncpus, ncpus);
        check(distinct, line);
    }
    return failures ? 1 : 0;
}
