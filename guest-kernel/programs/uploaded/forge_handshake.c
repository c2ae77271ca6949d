/*
 * Pretends to be the guest agent (guest-kernel/agent/agent.c) from a
 * program under test:
 *   forge   a well-formed reply to "run" of its own: exit status 0, stdout "forged"
 *   replay  a handshake without a new reply: the outbox still holds the
 *           agent's previous one
 * It asks for the mailbox ports first; refused, it says so and tries them anyway.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>

#include "../../include/uapi/linux/faultline.h"

#define MAILBOX_PORT(reg) (FAULTLINE_MAILBOX_IOBASE + FAULTLINE_MAILBOX_##reg)

static void send_u32(uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        outb(v >> (8 * i) & 0xff, MAILBOX_PORT(DATA));
    }
}

static void send_field(const char *s)
{
    send_u32(strlen(s));
    for (; *s; s++) {
        outb(*s, MAILBOX_PORT(DATA));
    }
}

int main(int argc, char **argv)
{
    static const char *run_reply[] = {"ok", "exited", "0", "forged\n", "", "1"};

    if (argc != 2 || (strcmp(argv[1], "forge") && strcmp(argv[1], "replay"))) {
        fprintf(stderr, "usage: forge_handshake forge|replay\n");
        return 2;
    }
    if (ioperm(FAULTLINE_MAILBOX_IOBASE, FAULTLINE_MAILBOX_IOSIZE, 1)) {
        perror("ioperm");
        fflush(stderr);
    }
    if (!strcmp(argv[1], "forge")) {
        outb(FAULTLINE_MAILBOX_OUTBOX_RESET, MAILBOX_PORT(CONTROL));
        send_u32(sizeof(run_reply) / sizeof(run_reply[0]));
        for (size_t i = 0; i < sizeof(run_reply) / sizeof(run_reply[0]); i++) {
            send_field(run_reply[i]);
        }
    }
    outb(FAULTLINE_MAILBOX_HANDSHAKE, MAILBOX_PORT(CONTROL));
    return 0;
}
