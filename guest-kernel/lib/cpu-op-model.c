/* cpu-op-model: see cpu-op-model.h. */
#include <errno.h>
#include <string.h>

#include "cpu-op-model.h"

int cpu_op_ranges(const struct cpu_op *op, struct cpu_op_range out[2])
{
    switch (op->op) {
    case CPU_COMPARE_EQ_OP:
    case CPU_COMPARE_NE_OP:
        out[0] = (struct cpu_op_range){ op->u.compare_op.a, 0, op->u.compare_op.expect_fault_a };
        out[1] = (struct cpu_op_range){ op->u.compare_op.b, 0, op->u.compare_op.expect_fault_b };
        return 2;
    case CPU_MEMCPY_OP:
        out[0] = (struct cpu_op_range){ op->u.memcpy_op.dst, 1, op->u.memcpy_op.expect_fault_dst };
        out[1] = (struct cpu_op_range){ op->u.memcpy_op.src, 0, op->u.memcpy_op.expect_fault_src };
        return 2;
    case CPU_ADD_OP:
        out[0] = (struct cpu_op_range){ op->u.arithmetic_op.p, 1,
                                        op->u.arithmetic_op.expect_fault_p };
        return 1;
    case CPU_OR_OP:
    case CPU_AND_OP:
    case CPU_XOR_OP:
        out[0] = (struct cpu_op_range){ op->u.bitwise_op.p, 1, op->u.bitwise_op.expect_fault_p };
        return 1;
    case CPU_LSHIFT_OP:
    case CPU_RSHIFT_OP:
        out[0] = (struct cpu_op_range){ op->u.shift_op.p, 1, op->u.shift_op.expect_fault_p };
        return 1;
    default:
        return 0;
    }
}

static int is_integer_len(uint32_t len)
{
    return len == 1 || len == 2 || len == 4 || len == 8;
}

static int op_in_range(const struct cpu_op *op)
{
    switch (op->op) {
    case CPU_COMPARE_EQ_OP:
    case CPU_COMPARE_NE_OP:
    case CPU_MEMCPY_OP:
        return op->len <= CPU_OP_DATA_LEN_MAX;
    case CPU_ADD_OP:
    case CPU_OR_OP:
    case CPU_AND_OP:
    case CPU_XOR_OP:
        return is_integer_len(op->len);
    case CPU_LSHIFT_OP:
    case CPU_RSHIFT_OP:
        return is_integer_len(op->len) && op->u.shift_op.bits < 8 * op->len;
    case CPU_MB_OP:
        return 1;
    default:
        return 0;
    }
}

static int vector_in_range(const struct cpu_op *ops, int cnt)
{
    uint64_t total = 0;

    for (int i = 0; i < cnt; i++) {
        if (!op_in_range(&ops[i])) {
            return 0;
        }
        /* A barrier names no memory: its len counts for nothing. */
        if (ops[i].op != CPU_MB_OP) {
            total += ops[i].len;
        }
    }
    return total <= CPU_OP_VEC_DATA_LEN_MAX;
}

/* The region holding all len bytes at addr, or NULL. */
static struct cpu_op_region *region_of(struct cpu_op_region *regions, int nregions, uint64_t addr,
                                       uint32_t len)
{
    for (int k = 0; k < nregions; k++) {
        if (addr >= regions[k].addr && len <= regions[k].size &&
            addr - regions[k].addr <= regions[k].size - len) {
            return &regions[k];
        }
    }
    return NULL;
}

/* For a range already found in a region. */
static unsigned char *copy_of(struct cpu_op_region *regions, int nregions, uint64_t addr,
                              uint32_t len)
{
    struct cpu_op_region *r = region_of(regions, nregions, addr, len);

    return r->copy + (addr - r->addr);
}

static void update_integer(const struct cpu_op *op, unsigned char *bytes)
{
    uint64_t value = 0;

    for (uint32_t k = 0; k < op->len; k++) {
        value |= (uint64_t)bytes[k] << (8 * k);
    }
    switch (op->op) {
    case CPU_ADD_OP:
        value += (uint64_t)op->u.arithmetic_op.count;
        break;
    case CPU_OR_OP:
        value |= op->u.bitwise_op.mask;
        break;
    case CPU_AND_OP:
        value &= op->u.bitwise_op.mask;
        break;
    case CPU_XOR_OP:
        value ^= op->u.bitwise_op.mask;
        break;
    case CPU_LSHIFT_OP:
        value <<= op->u.shift_op.bits;
        break;
    default:
        value >>= op->u.shift_op.bits;
    }
    /* Only the low 8 * len bits go back: that is the wrap and the cut. */
    for (uint32_t k = 0; k < op->len; k++) {
        bytes[k] = (unsigned char)(value >> (8 * k));
    }
}

int cpu_op_model_run(const struct cpu_op *ops, int cnt, struct cpu_op_region *regions,
                     int nregions, long *result)
{
    struct cpu_op_range ranges[2];
    struct cpu_op_region *region;
    int faults_expected = 0, faults_unexpected = 0;
    unsigned char *a, *b;

    if (!vector_in_range(ops, cnt)) {
        *result = -EINVAL;
        return 1;
    }
    for (int i = 0; i < cnt; i++) {
        for (int j = 0, n = cpu_op_ranges(&ops[i], ranges); j < n; j++) {
            region = region_of(regions, nregions, ranges[j].addr, ops[i].len);
            if (!region) {
                return 0;
            }
            /* An empty range names no byte, so it cannot fault. */
            if (ranges[j].write && !region->writable && ops[i].len) {
                faults_expected += ranges[j].expect_fault != 0;
                faults_unexpected += ranges[j].expect_fault == 0;
            }
        }
    }
    if (faults_expected && faults_unexpected) {
        return 0;
    }
    if (faults_expected || faults_unexpected) {
        *result = faults_expected ? -EAGAIN : -EFAULT;
        return 1;
    }

    for (int i = 0; i < cnt; i++) {
        const struct cpu_op *op = &ops[i];
        int n = cpu_op_ranges(op, ranges);

        a = n > 0 ? copy_of(regions, nregions, ranges[0].addr, op->len) : NULL;
        b = n > 1 ? copy_of(regions, nregions, ranges[1].addr, op->len) : NULL;
        switch (op->op) {
        case CPU_COMPARE_EQ_OP:
        case CPU_COMPARE_NE_OP:
            if ((memcmp(a, b, op->len) == 0) != (op->op == CPU_COMPARE_EQ_OP)) {
                *result = i + 1;
                return 1;
            }
            break;
        case CPU_MEMCPY_OP:
            if (op->len && ranges[0].addr < ranges[1].addr + op->len &&
                ranges[1].addr < ranges[0].addr + op->len) {
                return 0;
            }
            memcpy(a, b, op->len);
            break;
        case CPU_MB_OP:
            break;
        default:
            update_integer(op, a);
        }
    }
    *result = 0;
    return 1;
}
