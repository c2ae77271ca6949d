/*
 * Guest side of the faultline-mailbox device (qemu-patches/0002): port map and
 * the message framing the agent and the harness share.
 *
 * A message is a list of byte strings: u32 count, then per field u32 length
 * and the bytes (little endian). Binary-safe, and small enough to parse
 * without a library in PID 1.
 */
#ifndef FAULTLINE_MAILBOX_H
#define FAULTLINE_MAILBOX_H

#define MAILBOX_IOBASE 0x5e0
#define MAILBOX_IOSIZE 16
#define MAILBOX_REG_CONTROL (MAILBOX_IOBASE + 0)
#define MAILBOX_REG_DATA (MAILBOX_IOBASE + 4)
#define MAILBOX_REG_ICOUNT_LO (MAILBOX_IOBASE + 8)
#define MAILBOX_REG_ICOUNT_HI (MAILBOX_IOBASE + 12)

#define MAILBOX_CTRL_OUTBOX_RESET 1
#define MAILBOX_CTRL_HANDSHAKE 2

#endif
