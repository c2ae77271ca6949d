/*
 * faultline guest agent: PID 1 of the initramfs.
 *
 * The host leaves "secret SECRET" in the inbox before the guest starts. The
 * agent mounts the pseudo file systems, announces "ready" through the mailbox
 * and then serves one host command per handshake:
 *   run BUDGET USER PROGRAM ARGS...   -> ok EXIT_KIND CODE STDOUT STDERR ICOUNT
 *   spawn BUDGET USER PROGRAM ARGS... -> ok PID CR3 MAPS (held before its first
 *                                        instruction; MAPS: its /proc/PID/maps)
 *   spawn-main BUDGET USER PROGRAM ARGS... -> as spawn, held at the program's own
 *                                        entry point: the dynamic loader has mapped
 *                                        the libraries it needs
 *   resume                            -> as run, for the spawned program
 *   put PATH MODE DATA                -> ok
 * Any failure of the agent itself answers "error MESSAGE". Every reply,
 * "ready" included, opens with SECRET and its sequence number (0 for
 * "ready"): a program that reaches the mailbox ports cannot read the secret,
 * so the host knows a reply it did not write, or an old one handshaken again.
 *
 * USER is "root", or "nobody" to run the program as uid and gid 65534
 * without groups; either way without the agent's I/O port access.
 * EXIT_KIND is "exited", "signaled", or "timeout" when the program outran
 * BUDGET milliseconds of guest time (0: no limit) and was killed with its
 * process group (CODE is then SIGKILL). Guest time runs on the instruction
 * count, so a budget ends a run at the same point every time. ICOUNT is the
 * guest instruction count the command took, fork to reap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/param.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/user.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <elf.h>
#include <time.h>
#include <unistd.h>

#include <linux/faultline.h>
#include <linux/random.h>

#define MAILBOX_PORT(reg) (FAULTLINE_MAILBOX_IOBASE + FAULTLINE_MAILBOX_##reg)

/* A program's stdout or stderr beyond this is cut, so the reply stays bounded. */
#define OUTPUT_LIMIT (8u << 20)

/* "nobody" in the initramfs's /etc/passwd. */
#define NOBODY 65534

struct buffer {
    char *data;
    size_t len, cap;
};

static void buffer_append(struct buffer *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2 + 256;
        b->data = realloc(b->data, b->cap);
        if (!b->data) {
            /* PID 1 cannot recover from this; the kernel panics and the host reports it. */
            _exit(127);
        }
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

/*
 * glibc's outsb/insb asm lists no memory operand, so the compiler may keep
 * the bytes in registers past the instruction (seen: a reply count still 0
 * in memory when it was sent). These say what they read and write.
 */
static void port_write_bytes(uint16_t port, const void *data, size_t len)
{
    __asm__ volatile("rep outsb" : "+S"(data), "+c"(len) : "d"(port), "m"(*(const char(*)[len])data));
}

static void port_read_bytes(uint16_t port, void *data, size_t len)
{
    __asm__ volatile("rep insb" : "+D"(data), "+c"(len), "=m"(*(char(*)[len])data) : "d"(port));
}

static uint64_t guest_icount(void)
{
    uint32_t lo = inl(MAILBOX_PORT(ICOUNT_LO));

    return (uint64_t)inl(MAILBOX_PORT(ICOUNT_HI)) << 32 | lo;
}

/* ---- outgoing message ---- */

struct reply {
    struct buffer fields;
    uint32_t count;
};

static void reply_field(struct reply *r, const void *data, size_t len)
{
    uint32_t n = len;

    buffer_append(&r->fields, &n, sizeof(n));
    buffer_append(&r->fields, data, len);
    r->count++;
}

static void reply_str(struct reply *r, const char *s)
{
    reply_field(r, s, strlen(s));
}

static void reply_fmt(struct reply *r, const char *fmt, ...)
{
    char text[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    reply_str(r, text);
}

/* This boot's secret, from the host; every reply carries it. */
static struct buffer secret;

static void send_field(const void *data, uint32_t len)
{
    port_write_bytes(MAILBOX_PORT(DATA), &len, sizeof(len));
    port_write_bytes(MAILBOX_PORT(DATA), data, len);
}

/*
 * Send the reply, after the secret and its sequence number, and stop the VM
 * until the host has put the next command in the inbox.
 */
static void exchange(struct reply *r)
{
    static uint64_t sequence;
    uint32_t count = r->count + 2;
    char number[24];

    snprintf(number, sizeof(number), "%llu", (unsigned long long)sequence++);
    outb(FAULTLINE_MAILBOX_OUTBOX_RESET, MAILBOX_PORT(CONTROL));
    port_write_bytes(MAILBOX_PORT(DATA), &count, sizeof(count));
    send_field(secret.data, secret.len);
    send_field(number, strlen(number));
    port_write_bytes(MAILBOX_PORT(DATA), r->fields.data, r->fields.len);
    free(r->fields.data);
    memset(r, 0, sizeof(*r));
    outb(FAULTLINE_MAILBOX_HANDSHAKE, MAILBOX_PORT(CONTROL));
}

/* ---- incoming message ---- */

struct command {
    char *raw;
    uint32_t argc;
    char **argv;    /* NUL-terminated fields, argv[argc] == NULL */
    uint32_t *lens; /* field lengths, for binary data */
};

static void command_free(struct command *c)
{
    free(c->raw);
    free(c->argv);
    free(c->lens);
    memset(c, 0, sizeof(*c));
}

/* Parse the inbox in place. Returns 0, or -1 for a malformed message. */
static int command_read(struct command *c)
{
    uint32_t len = inl(MAILBOX_PORT(CONTROL));
    size_t pos = sizeof(uint32_t);
    uint32_t i;

    memset(c, 0, sizeof(*c));
    /* Room for a NUL after every field: each field's NUL overwrites the next length word. */
    c->raw = malloc((size_t)len + 1);
    if (!c->raw) {
        return -1;
    }
    port_read_bytes(MAILBOX_PORT(DATA), c->raw, len);
    if (len < sizeof(uint32_t)) {
        return -1;
    }
    memcpy(&c->argc, c->raw, sizeof(uint32_t));
    if (c->argc == 0 || c->argc > len / sizeof(uint32_t)) {
        return -1;
    }
    c->argv = calloc(c->argc + 1, sizeof(char *));
    c->lens = calloc(c->argc, sizeof(uint32_t));
    if (!c->argv || !c->lens) {
        return -1;
    }
    for (i = 0; i < c->argc; i++) {
        uint32_t n;

        if (len - pos < sizeof(uint32_t)) {
            return -1;
        }
        memcpy(&n, c->raw + pos, sizeof(uint32_t));
        pos += sizeof(uint32_t);
        if (n > len - pos) {
            return -1;
        }
        c->argv[i] = c->raw + pos;
        c->lens[i] = n;
        pos += n;
    }
    for (i = 0; i < c->argc; i++) {
        c->argv[i][c->lens[i]] = '\0';
    }
    return pos == len ? 0 : -1;
}

/* ---- commands ---- */

/* Read what a pipe has into b; returns false once the writer is gone. */
static bool drain(int fd, struct buffer *b)
{
    char chunk[65536];
    ssize_t n = read(fd, chunk, sizeof(chunk));

    if (n > 0) {
        buffer_append(b, chunk, MIN((size_t)n, OUTPUT_LIMIT - MIN(b->len, OUTPUT_LIMIT)));
        return true;
    }
    return n < 0 && errno == EINTR;
}

/* The program a "spawn" started, held at its first instruction until "resume". */
static struct {
    pid_t pid;
    int out, err;
    long budget_ms;
} spawned = {.pid = -1};

/* What run and spawn take: BUDGET USER PROGRAM ARGS... */
struct program {
    long budget_ms;
    bool as_root;
    char **argv; /* PROGRAM ARGS..., NULL-terminated */
};

/* false (and an error reply) if malformed. */
static bool program_command(struct command *c, struct reply *r, struct program *p)
{
    char *end;

    if (c->argc < 4) {
        reply_str(r, "error");
        reply_fmt(r, "%s: expects BUDGET USER PROGRAM ARGS...", c->argv[0]);
        return false;
    }
    p->budget_ms = strtol(c->argv[1], &end, 10);
    if (*end || end == c->argv[1] || p->budget_ms < 0) {
        reply_str(r, "error");
        reply_fmt(r, "%s: bad budget '%s' (milliseconds, 0 for none)", c->argv[0], c->argv[1]);
        return false;
    }
    if (strcmp(c->argv[2], "root") && strcmp(c->argv[2], "nobody")) {
        reply_str(r, "error");
        reply_fmt(r, "%s: bad user '%s' (root or nobody)", c->argv[0], c->argv[2]);
        return false;
    }
    p->as_root = !strcmp(c->argv[2], "root");
    p->argv = c->argv + 3;
    return true;
}

static long monotonic_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void reply_errno(struct reply *r, const char *what)
{
    reply_str(r, "error");
    reply_fmt(r, "%s: %s", what, strerror(errno));
}

/*
 * What a program under test gets of the agent's powers: none of its I/O port
 * access (inherited through fork and exec), and unless it runs as root,
 * none of its privileges either, so it cannot ask for the ports itself.
 */
static int drop_agent_powers(bool as_root)
{
    if (ioperm(FAULTLINE_MAILBOX_IOBASE, FAULTLINE_MAILBOX_IOSIZE, 0)) {
        return -1;
    }
    if (as_root) {
        return 0;
    }
    return setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY) ? -1 : 0;
}

/*
 * fork + exec with the child's stdout/stderr on pipes. With hold, the child
 * stops at its first instruction (ptrace stop after exec) so the host can arm
 * triggers in its fresh address space before it runs.
 */
static pid_t start_program(const struct program *p, bool hold, int *out, int *err)
{
    int out_pipe[2], err_pipe[2];
    pid_t pid;

    if (pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) {
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);

        dup2(null, 0);
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        setpgid(0, 0); /* a budget kill takes the program's children too */
        if (hold && ptrace(PTRACE_TRACEME, 0, NULL, NULL)) {
            _exit(127);
        }
        if (drop_agent_powers(p->as_root)) {
            dprintf(2, "faultline-agent: dropping privileges: %s\n", strerror(errno));
            _exit(127);
        }
        execv(p->argv[0], p->argv);
        dprintf(2, "faultline-agent: exec %s: %s\n", p->argv[0], strerror(errno));
        _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (pid < 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        return -1;
    }
    *out = out_pipe[0];
    *err = err_pipe[0];
    return pid;
}

/*
 * Collect the program's output until both pipes close, reap it, and reply.
 * Past its budget the program's process group is killed; the pipes then
 * close and the reply says "timeout".
 */
static void finish_program(pid_t pid, int out_fd, int err_fd, uint64_t start, long budget_ms,
                           struct reply *r)
{
    struct buffer out = {0}, err = {0};
    struct pollfd fds[2];
    int status, open_fds = 2;
    long deadline = budget_ms ? monotonic_ms() + budget_ms : 0;
    bool timed_out = false;

    fds[0] = (struct pollfd){.fd = out_fd, .events = POLLIN};
    fds[1] = (struct pollfd){.fd = err_fd, .events = POLLIN};
    while (open_fds > 0) {
        int wait_ms = deadline && !timed_out ? MAX(deadline - monotonic_ms(), 0) : -1;
        int ready = poll(fds, 2, wait_ms);

        if (ready == 0) {
            kill(-pid, SIGKILL);
            timed_out = true;
        }
        if (ready <= 0) {
            continue;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd >= 0 && fds[i].revents && !drain(fds[i].fd, i ? &err : &out)) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    reply_str(r, "ok");
    reply_str(r, timed_out ? "timeout" : WIFSIGNALED(status) ? "signaled" : "exited");
    reply_fmt(r, "%d", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    reply_field(r, out.data, out.len);
    reply_field(r, err.data, err.len);
    reply_fmt(r, "%llu", (unsigned long long)(guest_icount() - start));
    free(out.data);
    free(err.data);
}

static void cmd_run(struct command *c, struct reply *r)
{
    uint64_t start = guest_icount();
    struct program p;
    int out, err;
    pid_t pid;

    if (!program_command(c, r, &p)) {
        return;
    }
    pid = start_program(&p, false, &out, &err);
    if (pid < 0) {
        reply_errno(r, "run");
        return;
    }
    finish_program(pid, out, err, start, p.budget_ms, r);
}

/* The page-table root the injection device matches this process by. */
static int address_space_of(pid_t pid, char *cr3, size_t len)
{
    const char *path = "/sys/kernel/debug/faultline/cr3";
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n = -1;

    if (fd < 0 || dprintf(fd, "%d", pid) <= 0 || close(fd)) {
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, cr3, len - 1);
        close(fd);
    }
    if (n <= 0) {
        return -1;
    }
    cr3[strcspn(cr3, "\n")] = '\0';
    return 0;
}

/* Kill a program and reap it, its output unwanted. */
static void discard_program(pid_t pid, int out, int err)
{
    close(out);
    close(err);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

/* AT_ENTRY of a tracee: where the program's own code starts. */
static int entry_of(pid_t pid, uint64_t *entry)
{
    char path[32];
    uint64_t pair[2];
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    while (read(fd, pair, sizeof(pair)) == sizeof(pair) && pair[0] != AT_NULL) {
        if (pair[0] == AT_ENTRY) {
            *entry = pair[1];
            close(fd);
            return 0;
        }
    }
    close(fd);
    errno = ENOENT;
    return -1;
}

/*
 * Lets a tracee held after exec run up to its program's entry point, by a
 * one-shot int3 there, and holds it again with the instruction restored. A
 * program without a dynamic loader is there already. Anything else that
 * stops it on the way (a signal) is an error: the host asked for a program
 * held at its entry.
 */
static int run_to_entry(pid_t pid)
{
    struct user_regs_struct regs;
    uint64_t entry;
    long word;
    int status;

    if (entry_of(pid, &entry) || ptrace(PTRACE_GETREGS, pid, NULL, &regs)) {
        return -1;
    }
    if (regs.rip == entry) {
        return 0;
    }
    errno = 0;
    word = ptrace(PTRACE_PEEKTEXT, pid, (void *)entry, NULL);
    if (errno ||
        ptrace(PTRACE_POKETEXT, pid, (void *)entry, (void *)((word & ~0xffL) | 0xcc)) ||
        ptrace(PTRACE_CONT, pid, NULL, NULL) || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGTRAP ||
        ptrace(PTRACE_POKETEXT, pid, (void *)entry, (void *)word) ||
        ptrace(PTRACE_GETREGS, pid, NULL, &regs) || regs.rip != entry + 1) {
        errno = errno ? errno : EPROTO;
        return -1;
    }
    regs.rip = entry;
    return ptrace(PTRACE_SETREGS, pid, NULL, &regs) ? -1 : 0;
}

/* /proc/PID/maps whole; -1 if it cannot be read or does not fit. */
static ssize_t read_maps(pid_t pid, char *maps, size_t size)
{
    char path[32];
    size_t len = 0;
    ssize_t n = 1;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/maps", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    while (len < size && (n = read(fd, maps + len, size - len)) > 0) {
        len += n;
    }
    close(fd);
    if (n < 0 || len == size) {
        errno = n < 0 ? errno : E2BIG;
        return -1;
    }
    return len;
}

static void cmd_spawn(struct command *c, struct reply *r, bool at_entry)
{
    static char maps[256 << 10];
    char cr3[32] = "";
    struct program p;
    ssize_t maps_len = -1;
    int status;

    if (spawned.pid >= 0) {
        reply_str(r, "error");
        reply_str(r, "spawn: a spawned program waits for resume");
        return;
    }
    if (!program_command(c, r, &p)) {
        return;
    }
    spawned.budget_ms = p.budget_ms;
    spawned.pid = start_program(&p, true, &spawned.out, &spawned.err);
    if (spawned.pid < 0 || waitpid(spawned.pid, &status, 0) != spawned.pid || !WIFSTOPPED(status) ||
        (at_entry && run_to_entry(spawned.pid)) ||
        address_space_of(spawned.pid, cr3, sizeof(cr3)) ||
        (maps_len = read_maps(spawned.pid, maps, sizeof(maps))) < 0) {
        reply_errno(r, c->argv[0]);
        if (spawned.pid > 0) {
            discard_program(spawned.pid, spawned.out, spawned.err);
        }
        spawned.pid = -1;
        return;
    }
    reply_str(r, "ok");
    reply_fmt(r, "%d", spawned.pid);
    reply_str(r, cr3);
    reply_field(r, maps, maps_len);
}

static void cmd_resume(struct command *c, struct reply *r)
{
    uint64_t start = guest_icount();
    pid_t pid = spawned.pid;

    (void)c;
    if (pid < 0) {
        reply_str(r, "error");
        reply_str(r, "resume: nothing spawned");
        return;
    }
    spawned.pid = -1;
    if (ptrace(PTRACE_DETACH, pid, NULL, NULL)) {
        reply_errno(r, "resume");
        discard_program(pid, spawned.out, spawned.err);
        return;
    }
    finish_program(pid, spawned.out, spawned.err, start, spawned.budget_ms, r);
}

static void cmd_put(struct command *c, struct reply *r)
{
    const char *path;
    mode_t mode;
    int fd;

    if (c->argc != 4) {
        reply_str(r, "error");
        reply_str(r, "put: expects PATH MODE DATA");
        return;
    }
    path = c->argv[1];
    mode = strtoul(c->argv[2], NULL, 8);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0 || write(fd, c->argv[3], c->lens[3]) != (ssize_t)c->lens[3] ||
        fchmod(fd, mode) || close(fd)) {
        reply_str(r, "error");
        reply_fmt(r, "put %s: %s", path, strerror(errno));
        return;
    }
    reply_str(r, "ok");
}

/* What a program finds on a distribution's machine: /dev/shm for POSIX shared
 * memory (shm_open), cgroup v2 where systemd puts it. */
static void mount_pseudo_filesystems(void)
{
    static const struct { const char *type, *dir; } mounts[] = {
        {"proc", "/proc"}, {"sysfs", "/sys"}, {"devtmpfs", "/dev"},
        {"debugfs", "/sys/kernel/debug"}, {"tmpfs", "/tmp"}, {"tmpfs", "/dev/shm"},
        {"cgroup2", "/sys/fs/cgroup"},
    };

    for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
        mkdir(mounts[i].dir, 0755);
        if (mount(mounts[i].type, mounts[i].dir, mounts[i].type, 0, NULL)) {
            dprintf(2, "faultline-agent: mount %s: %s\n", mounts[i].dir, strerror(errno));
        }
    }
}

/* Loopback up: the kernel gives lo 127.0.0.1 and ::1 itself when it comes up,
 * so a program's local servers and clients work as on the host. */
static void bring_up_loopback(void)
{
    struct ifreq ifr = {.ifr_name = "lo"};
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) ||
        (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr))) {
        dprintf(2, "faultline-agent: bringing lo up: %s\n", strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
    }
}

/* The kernel's random pool, seeded with fixed bytes and credited in full.
 * Without RDRAND (off: it would differ run to run) the first getrandom() or
 * read of /dev/urandom waited 2.6 s of guest time for jitter entropy; fixed
 * bytes keep every run's random numbers the same, as a test guest wants. */
static void seed_random_pool(void)
{
    struct {
        struct rand_pool_info info;
        char bytes[32];
    } seed = {{.entropy_count = 8 * 32, .buf_size = 32}, "faultline: the same every boot"};
    int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);

    if (fd < 0 || ioctl(fd, RNDADDENTROPY, &seed)) {
        dprintf(2, "faultline-agent: seeding the random pool: %s\n", strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
    }
}

static void reap_orphans(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

/* The host's first message, there before the guest started: "secret SECRET". */
static int read_secret(void)
{
    struct command c;
    int ok = !command_read(&c) && c.argc == 2 && !strcmp(c.argv[0], "secret");

    if (ok) {
        buffer_append(&secret, c.argv[1], c.lens[1]);
    }
    command_free(&c);
    return ok ? 0 : -1;
}

int main(void)
{
    struct reply r = {0};
    struct utsname uts;

    if (ioperm(FAULTLINE_MAILBOX_IOBASE, FAULTLINE_MAILBOX_IOSIZE, 1)) {
        dprintf(2, "faultline-agent: ioperm: %s\n", strerror(errno));
        return 1; /* PID 1 exits: the kernel panics and the host says why. */
    }
    /* An absent device reads as all ones. */
    if (inl(MAILBOX_PORT(CONTROL)) == 0xffffffffu) {
        dprintf(2, "faultline-agent: no faultline-mailbox at port %#x\n", FAULTLINE_MAILBOX_IOBASE);
        return 1;
    }
    if (read_secret()) {
        dprintf(2, "faultline-agent: no \"secret\" message in the inbox\n");
        return 1;
    }
    mount_pseudo_filesystems();
    bring_up_loopback();
    seed_random_pool();
    setenv("PATH", "/bin", 1);
    uname(&uts);
    reply_str(&r, "ready");
    reply_str(&r, uts.release);
    reply_fmt(&r, "%ld", sysconf(_SC_NPROCESSORS_ONLN));

    for (;;) {
        struct command c;

        exchange(&r);
        reap_orphans();
        if (command_read(&c)) {
            reply_str(&r, "error");
            reply_str(&r, "malformed message");
        } else if (!strcmp(c.argv[0], "run")) {
            cmd_run(&c, &r);
        } else if (!strcmp(c.argv[0], "spawn")) {
            cmd_spawn(&c, &r, false);
        } else if (!strcmp(c.argv[0], "spawn-main")) {
            cmd_spawn(&c, &r, true);
        } else if (!strcmp(c.argv[0], "resume")) {
            cmd_resume(&c, &r);
        } else if (!strcmp(c.argv[0], "put")) {
            cmd_put(&c, &r);
        } else {
            reply_str(&r, "error");
            reply_fmt(&r, "unknown command '%s'", c.argv[0]);
        }
        command_free(&c);
    }
}
