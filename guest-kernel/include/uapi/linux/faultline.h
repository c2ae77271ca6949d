/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * faultline: every number the guest and the host must agree on.
 *
 * One file for all four parties. The patched-tree step (mk/patched-tree.sh)
 * puts it into the guest kernel as include/uapi/linux/faultline.h and into
 * QEMU as include/standard-headers/linux/faultline.h, where QEMU keeps the
 * kernel headers it shares; the guest agent and the harness include it from
 * guest-kernel/include/uapi. Macros and enums only: no types from either side.
 */
#ifndef _UAPI_LINUX_FAULTLINE_H
#define _UAPI_LINUX_FAULTLINE_H

/*
 * The mailbox (qemu-patches/0004): messages between the harness and the
 * guest agent, with the VM stopped while the host reads and answers. Ports,
 * as offsets from FAULTLINE_MAILBOX_IOBASE:
 *   CONTROL  write 8 bit: OUTBOX_RESET, or HANDSHAKE (the VM stops right
 *            after this instruction, every vCPU held)
 *            read 32 bit: bytes left in the inbox
 *   DATA     read 8 bit: the next inbox byte; write 8 bit: append to the outbox
 *   ICOUNT_LO read 32 bit: guest instructions executed, low half (latches
 *            the high half)
 *   ICOUNT_HI read 32 bit: the high half latched by the last ICOUNT_LO read
 */
#define FAULTLINE_MAILBOX_IOBASE	0x5e0
#define FAULTLINE_MAILBOX_IOSIZE	16
#define FAULTLINE_MAILBOX_CONTROL	0
#define FAULTLINE_MAILBOX_DATA		4
#define FAULTLINE_MAILBOX_ICOUNT_LO	8
#define FAULTLINE_MAILBOX_ICOUNT_HI	12
#define FAULTLINE_MAILBOX_OUTBOX_RESET	1
#define FAULTLINE_MAILBOX_HANDSHAKE	2

/*
 * A message, either way, is a list of byte strings: a u32 count, then per
 * field a u32 length and the bytes; little endian. Binary-safe, and simple
 * enough to parse without a library in PID 1. A whole message is at most
 * FAULTLINE_MESSAGE_MAX bytes: a program pushed into the guest must fit.
 */
#define FAULTLINE_MESSAGE_MAX		(64 << 20)

/*
 * The injection device's guest port (qemu-patches/0011), 32-bit accesses,
 * offsets from FAULTLINE_INJECT_IOBASE:
 *   EVENT   read: the event for the reading vCPU, cleared on read; 0 when
 *           none. FAULTLINE_INJECT_CODE() of it is the event's code (below),
 *           FAULTLINE_INJECT_SEQ() the firing's sequence number, modulo
 *           2^FAULTLINE_INJECT_SEQ_BITS.
 *   ARG_HI  read: the argument's high 32 bits, of the event this vCPU last
 *   ARG_LO  read: ... and low 32 bits  read; FAULTLINE_ARG_DEFAULT: the
 *           default target (see FAULTLINE_ARG_*)
 *   REPORT  write: IA32_PKRS as the handler of the event this vCPU last
 *           read runs with (read with RDMSR), for a kernel trigger's
 *           checks. The first report stands. (Same offset as ARG_HI, which
 *           is read only.)
 *   ANSWER  write: FAULTLINE_INJECT_ANSWER(seq, status), the guest's answer
 *           for a firing. The first answer stands.
 */
#define FAULTLINE_INJECT_IOBASE		0x5f0
#define FAULTLINE_INJECT_IOSIZE		16
#define FAULTLINE_INJECT_EVENT		0
#define FAULTLINE_INJECT_ARG_HI		4
#define FAULTLINE_INJECT_REPORT		4
#define FAULTLINE_INJECT_ARG_LO		8
#define FAULTLINE_INJECT_ANSWER		12
#define FAULTLINE_INJECT_SEQ_BITS	24
#define FAULTLINE_INJECT_CODE(word)	((word) & 0xff)
#define FAULTLINE_INJECT_SEQ(word)	((word) >> 8)
#define FAULTLINE_INJECT_ANSWER_OF(seq, status)	((seq) << 8 | (status))
#define FAULTLINE_ARG_DEFAULT		(~0ULL)

/* What an event's argument is; faultline-arm checks it by this. */
#define FAULTLINE_ARG_NONE	0	/* none */
#define FAULTLINE_ARG_SIGNAL	1	/* a signal number, required */
#define FAULTLINE_ARG_CPU	2	/* a CPU; default: the next online one */
#define FAULTLINE_ARG_ADDRESS	3	/* a user address; default: the trigger's page */

/*
 * Where an event can fire: before a user instruction (a trigger at CPL 3 in
 * one address space), a kernel one (CPL 0, one address space or all), or
 * both. What acts on the user task on its way back (a signal, a migration,
 * a page fault) has no meaning at a kernel instruction; an interrupt or an
 * NMI is what a kernel instruction can meet.
 */
#define FAULTLINE_AT_USER	1
#define FAULTLINE_AT_KERNEL	2
#define FAULTLINE_AT_BOTH	3

/*
 * The vector of the irq event: Linux's X86_PLATFORM_IPI_VECTOR, a system
 * vector whose handler calls one callback a driver sets (x86_platform_ipi_
 * callback). QEMU delivers it as a device's MSI to the local APIC of the
 * vCPU that hit, so it is a real external interrupt, taken before the
 * instruction when interrupts are enabled and held pending when not.
 */
#define FAULTLINE_INJECT_IRQ_VECTOR	0xf7

/*
 * What kernel/rseq.c sees of an event: the event the harness asks
 * models/RseqRule about. A page fault the guest makes blocking is one that
 * blocks; the plain one may or may not block (the task is switched out only
 * if handling it had to wait), so the model is asked about both.
 */
#define FAULTLINE_RSEQ_NONE			0
#define FAULTLINE_RSEQ_PREEMPT			1
#define FAULTLINE_RSEQ_SIGNAL			2
#define FAULTLINE_RSEQ_MIGRATE			3
#define FAULTLINE_RSEQ_PAGE_FAULT_THAT_BLOCKS	4
#define FAULTLINE_RSEQ_PAGE_FAULT_THAT_MAY_BLOCK	5

/*
 * The events, once for every layer:
 *   X(code, ID, name, qmp name, argument, rseq event, where)
 * code: what the guest driver reads on EVENT, FAULTLINE_EVENT_<ID> here;
 * 0 (none) reaches no guest, the firing is only recorded. name: the
 * identifier in the CLI, JSON, Python and the sweep's picture. qmp name: in
 * faultline-arm and query-faultline. where: FAULTLINE_AT_*, what
 * faultline-arm checks a trigger's privilege level against. A sweep fires
 * every event that reaches the guest and can fire where it sweeps.
 * Adding an event is a row here and a case in the guest driver
 * (guest-kernel/patches/0001); QEMU, the harness, the CLI and the bindings
 * take it from this table.
 */
#define FAULTLINE_EVENTS(X)							\
	X(1, PREEMPT, preempt, "preempt", FAULTLINE_ARG_NONE, FAULTLINE_RSEQ_PREEMPT,	\
	  FAULTLINE_AT_BOTH)								\
	X(2, SIGNAL, signal, "signal", FAULTLINE_ARG_SIGNAL, FAULTLINE_RSEQ_SIGNAL,	\
	  FAULTLINE_AT_USER)								\
	X(3, MIGRATE, migrate, "migrate", FAULTLINE_ARG_CPU, FAULTLINE_RSEQ_MIGRATE,	\
	  FAULTLINE_AT_USER)								\
	X(4, PAGE_FAULT, page_fault, "page-fault", FAULTLINE_ARG_ADDRESS,		\
	  FAULTLINE_RSEQ_PAGE_FAULT_THAT_MAY_BLOCK, FAULTLINE_AT_USER)		\
	X(5, PAGE_FAULT_BLOCKING, page_fault_blocking, "page-fault-blocking",		\
	  FAULTLINE_ARG_ADDRESS, FAULTLINE_RSEQ_PAGE_FAULT_THAT_BLOCKS,		\
	  FAULTLINE_AT_USER)								\
	X(6, IRQ, irq, "irq", FAULTLINE_ARG_NONE, FAULTLINE_RSEQ_NONE,		\
	  FAULTLINE_AT_KERNEL)								\
	X(7, NMI, nmi, "nmi", FAULTLINE_ARG_NONE, FAULTLINE_RSEQ_NONE,		\
	  FAULTLINE_AT_KERNEL)								\
	X(0, NONE, none, "none", FAULTLINE_ARG_NONE, FAULTLINE_RSEQ_NONE,		\
	  FAULTLINE_AT_BOTH)

#define FAULTLINE_EVENT_CODE_OF(code, ID, ...) FAULTLINE_EVENT_##ID = code,
enum faultline_event { FAULTLINE_EVENTS(FAULTLINE_EVENT_CODE_OF) };
#undef FAULTLINE_EVENT_CODE_OF

/*
 * The guest's answers for a firing: X(code, ID, name). done, or why
 * the event was not carried out: the task already on the target CPU, the
 * target CPU offline, nothing mapped at the address, the task exiting, the
 * kernel refused (out of memory, an error from the call that carries it
 * out), the kernel instruction had interrupts or preemption disabled (a
 * preemption there would only come later, somewhere else). 0 is no answer
 * yet.
 */
#define FAULTLINE_ANSWERS(X)		\
	X(1, DONE, "done")		\
	X(2, SAME_CPU, "same-cpu")	\
	X(3, OFFLINE, "offline")	\
	X(4, UNMAPPED, "unmapped")	\
	X(5, EXITING, "exiting")	\
	X(6, REFUSED, "refused")		\
	X(7, IRQS_OFF, "interrupts-off")	\
	X(8, PREEMPT_OFF, "preemption-off")

#define FAULTLINE_ANSWER_CODE_OF(code, ID, ...) FAULTLINE_ANSWER_##ID = code,
enum faultline_answer { FAULTLINE_ANSWERS(FAULTLINE_ANSWER_CODE_OF) };
#undef FAULTLINE_ANSWER_CODE_OF

#endif /* _UAPI_LINUX_FAULTLINE_H */
