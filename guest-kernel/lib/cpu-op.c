/* cpu-op: see cpu-op.h. */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpu-op.h"

int cpu_opv(struct cpu_op *ops, int cnt, int cpu, int flags)
{
    return syscall(__NR_cpu_opv, ops, cnt, cpu, flags);
}

struct cpu_op cpu_op_compare(enum cpu_op_type type, const void *a, const void *b, uint32_t len)
{
    return (struct cpu_op){ .op = type, .len = len,
                            .u.compare_op = { .a = (uintptr_t)a, .b = (uintptr_t)b } };
}

struct cpu_op cpu_op_memcpy(void *dst, const void *src, uint32_t len)
{
    return (struct cpu_op){ .op = CPU_MEMCPY_OP, .len = len,
                            .u.memcpy_op = { .dst = (uintptr_t)dst, .src = (uintptr_t)src } };
}

struct cpu_op cpu_op_word(enum cpu_op_type type, void *p, uint32_t len, uint64_t operand)
{
    struct cpu_op op = { .op = type, .len = len };

    switch (type) {
    case CPU_ADD_OP:
        op.u.arithmetic_op.p = (uintptr_t)p;
        op.u.arithmetic_op.count = (int64_t)operand;
        break;
    case CPU_LSHIFT_OP:
    case CPU_RSHIFT_OP:
        op.u.shift_op.p = (uintptr_t)p;
        op.u.shift_op.bits = (uint32_t)operand;
        break;
    default:
        op.u.bitwise_op.p = (uintptr_t)p;
        op.u.bitwise_op.mask = operand;
    }
    return op;
}

struct cpu_op cpu_op_barrier(void)
{
    return (struct cpu_op){ .op = CPU_MB_OP };
}

int cpu_op_add(int cpu, intptr_t *p, intptr_t count)
{
    struct cpu_op op = cpu_op_word(CPU_ADD_OP, p, sizeof(*p), count);

    return cpu_opv(&op, 1, cpu, 0);
}

int cpu_op_cmpxchg(int cpu, intptr_t *p, intptr_t expect, intptr_t newv)
{
    struct cpu_op ops[] = {
        cpu_op_compare(CPU_COMPARE_EQ_OP, p, &expect, sizeof(*p)),
        cpu_op_memcpy(p, &newv, sizeof(*p)),
    };

    return cpu_opv(ops, 2, cpu, 0);
}

int cpu_op_cmpeqv_memcpy_storev(int cpu, intptr_t *p, intptr_t expect, void *dst,
                                const void *src, size_t len, intptr_t newv)
{
    struct cpu_op ops[] = {
        cpu_op_compare(CPU_COMPARE_EQ_OP, p, &expect, sizeof(*p)),
        cpu_op_memcpy(dst, src, len),
        cpu_op_memcpy(p, &newv, sizeof(*p)),
    };

    if (len > CPU_OP_DATA_LEN_MAX) {
        errno = EINVAL;
        return -1;
    }
    return cpu_opv(ops, 3, cpu, 0);
}
