/*
 * cpu-op: user-space side of the faultline guest's cpu_opv system call
 * (guest-kernel/patches/0004, the 2017 proposal's ABI in <linux/cpu_opv.h>).
 * Build with the guest kernel's installed headers first on the include path.
 *
 * cpu_opv() is the raw call. The op builders fill a struct cpu_op; the
 * helpers below them are the per-CPU updates a restartable sequence's slow
 * path needs. Their vectors set no expect_fault, so they never answer
 * EAGAIN: each runs once, to completion or to an error.
 */
#ifndef FAULTLINE_CPU_OP_H
#define FAULTLINE_CPU_OP_H

#include <stddef.h>
#include <stdint.h>

#include <linux/cpu_opv.h>

/* 0, i + 1 when the compare at ops[i] failed, or -1 with errno set. */
int cpu_opv(struct cpu_op *ops, int cnt, int cpu, int flags);

struct cpu_op cpu_op_compare(enum cpu_op_type type, const void *a, const void *b, uint32_t len);
struct cpu_op cpu_op_memcpy(void *dst, const void *src, uint32_t len);
/* ADD (operand: count), OR/AND/XOR (mask), LSHIFT/RSHIFT (bits) on len bytes at p. */
struct cpu_op cpu_op_word(enum cpu_op_type type, void *p, uint32_t len, uint64_t operand);
struct cpu_op cpu_op_barrier(void);

/* *p += count on cpu. 0, or -1 with errno set. */
int cpu_op_add(int cpu, intptr_t *p, intptr_t count);
/* If *p == expect, *p = newv, on cpu. 0 stored, 1 *p differed, -1 with errno set. */
int cpu_op_cmpxchg(int cpu, intptr_t *p, intptr_t expect, intptr_t newv);
/*
 * If *p == expect, copy len bytes from src to dst, then *p = newv, on cpu:
 * a per-CPU buffer's "fill the slot, then publish it". Returns as
 * cpu_op_cmpxchg.
 */
int cpu_op_cmpeqv_memcpy_storev(int cpu, intptr_t *p, intptr_t expect, void *dst,
                                const void *src, size_t len, intptr_t newv);

#endif
