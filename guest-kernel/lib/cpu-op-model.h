/*
 * cpu-op-model: what a cpu_opv vector does according to <linux/cpu_opv.h>,
 * evaluated in user space on copies of the memory it names, so that a
 * caller can check the kernel's exact result and every byte the vector left
 * behind. Written from the ABI's description, not from kernel/cpu_opv.c:
 * - a vector is checked as a whole before any of it runs: an op type, a
 *   length or a shift out of range, or lengths summing past
 *   CPU_OP_VEC_DATA_LEN_MAX, is EINVAL and touches nothing;
 * - then a range that cannot be accessed as its op needs fails the call
 *   before any op runs: EAGAIN if its expect_fault flag is set, else EFAULT;
 * - then the ops run in order; a failed compare at ops[i] returns i + 1,
 *   the ops before it applied, none after;
 * - ADD/OR/AND/XOR/LSHIFT/RSHIFT treat the len bytes at p as an unsigned
 *   little-endian integer of 8 * len bits: results wrap, the operand is cut
 *   to that width, shifts are logical.
 * Build with the guest kernel's installed headers first on the include path.
 */
#ifndef FAULTLINE_CPU_OP_MODEL_H
#define FAULTLINE_CPU_OP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <linux/cpu_opv.h>

/* Memory the model knows: the caller's size bytes at addr, and the model's copy of them. */
struct cpu_op_region {
    const char *name;
    uintptr_t addr;
    size_t size;
    int writable;
    unsigned char *copy;
};

/* A user range an op names (op->len bytes), as the op's type reads the union. */
struct cpu_op_range {
    uint64_t addr;
    int write;
    int expect_fault;
};

/* The ranges op names: 0, 1 or 2 of them in out. */
int cpu_op_ranges(const struct cpu_op *op, struct cpu_op_range out[2]);

/*
 * Runs ops[0..cnt) (0 <= cnt <= CPU_OP_VEC_LEN_MAX, flags 0, an online CPU)
 * on the regions' copies. Returns 1 and sets *result to what cpu_opv returns
 * (0, i + 1, or -errno) when the ABI fixes the outcome, 0 when it does not:
 * a range outside every region, the ranges of a memcpy that runs overlap
 * (memcpy's rule), or of the ranges that fault some expect it and some not.
 */
int cpu_op_model_run(const struct cpu_op *ops, int cnt, struct cpu_op_region *regions,
                     int nregions, long *result);

#endif
