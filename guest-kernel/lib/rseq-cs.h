/*
 * Restartable sequences written by hand in inline assembly, on the rseq
 * area glibc registered (__rseq_offset), for the guest programs that run
 * them. Each critical section follows the kernel selftests' convention (a
 * __rseq_cs_ptr_array entry per struct rseq_cs) so tools can find it.
 */
#ifndef FAULTLINE_RSEQ_CS_H
#define FAULTLINE_RSEQ_CS_H

#include <stdint.h>
#include <sys/rseq.h>

/*
 * The rseq_cs descriptor (label 3) for a sequence from label 1 to its
 * post-commit label 2 with abort handler 4, listed in __rseq_cs_ptr_array,
 * and the code that makes it the thread's current sequence.
 */
#define RSEQ_CS_BEGIN                                                   \
    ".pushsection __rseq_cs, \"aw\"\n\t"                                \
    ".balign 32\n\t"                                                    \
    "3:\n\t"                                                            \
    ".long 0, 0\n\t"                                                    \
    ".quad 1f, (2f - 1f), 4f\n\t"                                       \
    ".popsection\n\t"                                                   \
    ".pushsection __rseq_cs_ptr_array, \"aw\"\n\t"                      \
    ".quad 3b\n\t"                                                      \
    ".popsection\n\t"                                                   \
    "leaq 3b(%%rip), %%rax\n\t"                                         \
    "movq %%rax, %%fs:8(%[rseq])\n\t"                                   \
    "1:\n\t"                                                            \
    "cmpl %[cpu], %%fs:4(%[rseq])\n\t"                                  \
    "jnz 4f\n\t"

/*
 * The word before every abort handler: RSEQ_SIG, which glibc registered.
 * rseq-bad-signature is built with another, which the kernel must answer
 * with SIGSEGV wherever it would abort; and since the kernel checks the
 * signature of whatever rseq_cs still points to at every preemption,
 * signal or migration, inside the sequence or not, that program also
 * clears rseq_cs at its post-commit instruction, in its abort handler and
 * at its other exits (RSEQ_CS_CLEARED_AFTER, rseq_cs_clear_after).
 */
#ifndef RSEQ_CS_SIGNATURE
#define RSEQ_CS_SIGNATURE 0x53053053
#endif
#define RSEQ_CS_STR_(x) #x
#define RSEQ_CS_STR(x) RSEQ_CS_STR_(x)
#ifdef RSEQ_CS_CLEARED_AFTER
#define RSEQ_CS_CLEAR "movq $0, %%fs:8(%[rseq])\n\t"
#else
#define RSEQ_CS_CLEAR ""
#endif

/* The abort handler: preceded by the signature the kernel checks. */
#define RSEQ_CS_END                                                     \
    "2:\n\t"                                                            \
    ".pushsection __rseq_failure, \"ax\"\n\t"                           \
    ".byte 0x0f, 0xb9, 0x3d\n\t"                                        \
    ".long " RSEQ_CS_STR(RSEQ_CS_SIGNATURE) "\n\t"                      \
    "4:\n\t"                                                            \
    RSEQ_CS_CLEAR                                                       \
    "jmp %l[abort]\n\t"                                                 \
    ".popsection\n\t"                                                   \
    RSEQ_CS_CLEAR

/* For a sequence's exits to labels of its own (RSEQ_CS_CLEARED_AFTER). */
static inline __attribute__((unused)) void rseq_cs_clear_after(void)
{
#ifdef RSEQ_CS_CLEARED_AFTER
    struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);

    __atomic_store_n(&rs->rseq_cs, 0, __ATOMIC_RELAXED);
#endif
}

/*
 * *counter + 1 on cpu, stored `window` spins after the load: 0 committed, 1
 * aborted (or not on cpu). Whatever else adds to the counter meanwhile is
 * lost unless it aborts the sequence, as a preemption on cpu does: the wide
 * window makes such a loss all but certain.
 */
static __attribute__((noinline, unused)) int rseq_increment_slowly(intptr_t *counter, int cpu,
                                                                 long window)
{
    __asm__ goto(RSEQ_CS_BEGIN
                 "movq %[counter], %%rcx\n\t"
                 "movq %[window], %%rdx\n\t"
                 "5:\n\t"
                 "subq $1, %%rdx\n\t"
                 "jns 5b\n\t"
                 "addq $1, %%rcx\n\t"
                 "movq %%rcx, %[counter]\n\t" /* commit */
                 RSEQ_CS_END
                 :
                 : [rseq] "r"(__rseq_offset), [cpu] "r"(cpu), [window] "r"(window),
                   [counter] "m"(*counter)
                 : "rax", "rcx", "rdx", "memory", "cc"
                 : abort);
    return 0;
abort:
    return 1;
}

/* The CPU the thread runs on, as rseq last told it. */
static inline int current_cpu(void)
{
    struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);

    return __atomic_load_n(&rs->cpu_id_start, __ATOMIC_RELAXED);
}

#endif
