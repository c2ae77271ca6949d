/*
 * What a program and its test suite expect of a distribution kernel, each
 * facility used for real (data through the socket, the timer fires, the
 * eventfd counts), one check per facility (lib/checks.h): the groups of
 * faultline.config's "expect of a distribution kernel" part, and the file
 * systems the agent mounts. Runs as any user; "facilities NAME..." runs only
 * those checks.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/magic.h>
#include <linux/membarrier.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checks.h"

/* Each check returns NULL when the facility did what it is for, or why not. */
static char why[256];

#define FAIL_IF(cond, ...) \
    do { \
        if (cond) { \
            snprintf(why, sizeof(why), __VA_ARGS__); \
            return why; \
        } \
    } while (0)
#define SYSCALL_OK(call) FAIL_IF((call) < 0, "%s: %s", #call, strerror(errno))

static const char *madvise_fadvise_mincore(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char resident[2];
    int fd;

    FAIL_IF(p == MAP_FAILED, "mmap: %s", strerror(errno));
    p[0] = 1;
    SYSCALL_OK(mincore(p, 2 * page, resident));
    FAIL_IF(!(resident[0] & 1) || (resident[1] & 1), "mincore: %d %d, want 1 0", resident[0],
            resident[1]);
    SYSCALL_OK(madvise(p, 2 * page, MADV_DONTNEED));
    FAIL_IF(p[0] != 0, "the page kept its data after MADV_DONTNEED");
    SYSCALL_OK(madvise(p, 2 * page, MADV_DONTFORK));
    SYSCALL_OK(madvise(p, 2 * page, MADV_WIPEONFORK));
    SYSCALL_OK(fd = open("/tmp", O_TMPFILE | O_RDWR, 0600));
    errno = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    FAIL_IF(errno, "posix_fadvise: %s", strerror(errno));
    close(fd);
    return NULL;
}

static const char *epoll(void)
{
    int pipefd[2], ep;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7}, got;

    SYSCALL_OK(pipe(pipefd));
    SYSCALL_OK(ep = epoll_create1(EPOLL_CLOEXEC));
    SYSCALL_OK(epoll_ctl(ep, EPOLL_CTL_ADD, pipefd[0], &ev));
    FAIL_IF(epoll_wait(ep, &got, 1, 0) != 0, "ready before anything was written");
    SYSCALL_OK(write(pipefd[1], "x", 1));
    FAIL_IF(epoll_wait(ep, &got, 1, 1000) != 1 || got.data.u64 != 7 || !(got.events & EPOLLIN),
            "the written pipe was not reported");
    return NULL;
}

static const char *eventfd_counts(void)
{
    uint64_t n = 3, sum;
    int fd;

    SYSCALL_OK(fd = eventfd(0, EFD_CLOEXEC));
    SYSCALL_OK(write(fd, &n, sizeof(n)));
    n = 4;
    SYSCALL_OK(write(fd, &n, sizeof(n)));
    SYSCALL_OK(read(fd, &sum, sizeof(sum)));
    FAIL_IF(sum != 7, "read %llu, want 7", (unsigned long long)sum);
    return NULL;
}

static const char *timerfd_fires(void)
{
    struct itimerspec in_10ms = {.it_value = {.tv_nsec = 10 * 1000 * 1000}};
    uint64_t expirations;
    int fd;

    SYSCALL_OK(fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
    SYSCALL_OK(timerfd_settime(fd, 0, &in_10ms, NULL));
    SYSCALL_OK(read(fd, &expirations, sizeof(expirations)));
    FAIL_IF(expirations != 1, "%llu expirations, want 1", (unsigned long long)expirations);
    return NULL;
}

static const char *signalfd_reads(void)
{
    struct signalfd_siginfo info;
    sigset_t usr1;
    int fd;

    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    SYSCALL_OK(sigprocmask(SIG_BLOCK, &usr1, NULL));
    SYSCALL_OK(fd = signalfd(-1, &usr1, SFD_CLOEXEC));
    SYSCALL_OK(raise(SIGUSR1));
    SYSCALL_OK(read(fd, &info, sizeof(info)));
    FAIL_IF(info.ssi_signo != SIGUSR1, "signal %u, want SIGUSR1", info.ssi_signo);
    return NULL;
}

static const char *inotify(void)
{
    char dir[] = "/tmp/inotify.XXXXXX", path[64];
    union {
        struct inotify_event ev;
        char buf[sizeof(struct inotify_event) + NAME_MAX + 1];
    } got;
    int fd;

    FAIL_IF(!mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    SYSCALL_OK(fd = inotify_init1(IN_CLOEXEC));
    SYSCALL_OK(inotify_add_watch(fd, dir, IN_CREATE));
    snprintf(path, sizeof(path), "%s/new", dir);
    close(open(path, O_CREAT | O_WRONLY, 0600));
    SYSCALL_OK(read(fd, &got, sizeof(got)));
    FAIL_IF(!(got.ev.mask & IN_CREATE) || strcmp(got.ev.name, "new"), "event %#x for '%s'",
            got.ev.mask, got.ev.name);
    return NULL;
}

static const char *sysv_ipc(void)
{
    struct { long type; char text[8]; } sent = {1, "hello"}, got;
    struct sembuf up = {.sem_op = 1}, down = {.sem_op = -1};
    int shm, sem, msg;
    char *shared;

    SYSCALL_OK(shm = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
    shared = shmat(shm, NULL, 0);
    FAIL_IF(shared == (void *)-1, "shmat: %s", strerror(errno));
    strcpy(shared, "shared");
    SYSCALL_OK(shmctl(shm, IPC_RMID, NULL));
    FAIL_IF(strcmp(shared, "shared"), "the segment lost its data");
    SYSCALL_OK(sem = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600));
    SYSCALL_OK(semop(sem, &up, 1));
    SYSCALL_OK(semop(sem, &down, 1));
    SYSCALL_OK(semctl(sem, 0, IPC_RMID));
    SYSCALL_OK(msg = msgget(IPC_PRIVATE, IPC_CREAT | 0600));
    SYSCALL_OK(msgsnd(msg, &sent, sizeof(sent.text), 0));
    SYSCALL_OK(msgrcv(msg, &got, sizeof(got.text), 1, 0));
    SYSCALL_OK(msgctl(msg, IPC_RMID, NULL));
    FAIL_IF(strcmp(got.text, "hello"), "received '%s'", got.text);
    return NULL;
}

static const char *posix_mqueue(void)
{
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 16};
    char got[16];
    mqd_t q;

    q = mq_open("/faultline", O_CREAT | O_RDWR, 0600, &attr);
    FAIL_IF(q == (mqd_t)-1, "mq_open: %s", strerror(errno));
    SYSCALL_OK(mq_send(q, "queued", 7, 0));
    SYSCALL_OK(mq_receive(q, got, sizeof(got), NULL));
    SYSCALL_OK(mq_unlink("/faultline"));
    FAIL_IF(strcmp(got, "queued"), "received '%s'", got);
    return NULL;
}

/* Data written into one end of a connected pair arrives whole at the other. */
static const char *carries_data(int a, int b)
{
    char got[16] = "";

    SYSCALL_OK(send(a, "ping", 5, 0));
    SYSCALL_OK(recv(b, got, sizeof(got), 0));
    FAIL_IF(strcmp(got, "ping"), "received '%s'", got);
    return NULL;
}

static const char *unix_sockets(void)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int pair[2], server, client, accepted;
    const char *bad;

    SYSCALL_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair));
    if ((bad = carries_data(pair[0], pair[1]))) {
        return bad;
    }
    snprintf(addr.sun_path, sizeof(addr.sun_path), "/tmp/faultline.%d.sock", getpid());
    SYSCALL_OK(server = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    SYSCALL_OK(bind(server, (struct sockaddr *)&addr, sizeof(addr)));
    SYSCALL_OK(listen(server, 1));
    SYSCALL_OK(client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    SYSCALL_OK(connect(client, (struct sockaddr *)&addr, sizeof(addr)));
    SYSCALL_OK(accepted = accept(server, NULL, NULL));
    unlink(addr.sun_path);
    return carries_data(client, accepted);
}

/* A server on the loopback address of family, the port the kernel picks. */
static const char *loopback(int family, int type)
{
    struct sockaddr_storage addr = {.ss_family = family};
    socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    int server, client, peer;

    if (family == AF_INET) {
        ((struct sockaddr_in *)&addr)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
        ((struct sockaddr_in6 *)&addr)->sin6_addr = in6addr_loopback;
    }
    SYSCALL_OK(server = socket(family, type | SOCK_CLOEXEC, 0));
    SYSCALL_OK(bind(server, (struct sockaddr *)&addr, len));
    SYSCALL_OK(getsockname(server, (struct sockaddr *)&addr, &len));
    if (type == SOCK_STREAM) {
        SYSCALL_OK(listen(server, 1));
    }
    SYSCALL_OK(client = socket(family, type | SOCK_CLOEXEC, 0));
    SYSCALL_OK(connect(client, (struct sockaddr *)&addr, len));
    if (type == SOCK_STREAM) {
        SYSCALL_OK(peer = accept(server, NULL, NULL));
    } else {
        peer = server;
    }
    return carries_data(client, peer);
}

static const char *tcp_ipv4(void) { return loopback(AF_INET, SOCK_STREAM); }
static const char *udp_ipv4(void) { return loopback(AF_INET, SOCK_DGRAM); }
static const char *tcp_ipv6(void) { return loopback(AF_INET6, SOCK_STREAM); }
static const char *udp_ipv6(void) { return loopback(AF_INET6, SOCK_DGRAM); }

/* Linux AIO through its system calls, as libaio makes them. */
static const char *aio(void)
{
    char data[] = "aio data", got[sizeof(data)] = "";
    struct iocb cb = {.aio_lio_opcode = IOCB_CMD_PREAD, .aio_buf = (uintptr_t)got,
                      .aio_nbytes = sizeof(got)}, *cbs[] = {&cb};
    struct io_event ev;
    aio_context_t ctx = 0;
    int fd;

    SYSCALL_OK(fd = open("/tmp", O_TMPFILE | O_RDWR, 0600));
    SYSCALL_OK(write(fd, data, sizeof(data)));
    cb.aio_fildes = fd;
    SYSCALL_OK(syscall(SYS_io_setup, 1, &ctx));
    FAIL_IF(syscall(SYS_io_submit, ctx, 1, cbs) != 1, "io_submit: %s", strerror(errno));
    FAIL_IF(syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) != 1, "io_getevents: %s",
            strerror(errno));
    SYSCALL_OK(syscall(SYS_io_destroy, ctx));
    FAIL_IF(ev.res != sizeof(data) || strcmp(got, data), "read %lld bytes: '%s'",
            (long long)ev.res, got);
    return NULL;
}

/* One read through io_uring's rings, as liburing sets them up. */
static const char *io_uring(void)
{
    struct io_uring_params p = {0};
    char data[] = "uring data", got[sizeof(data)] = "";
    int ring, fd;

    SYSCALL_OK(fd = open("/tmp", O_TMPFILE | O_RDWR, 0600));
    SYSCALL_OK(write(fd, data, sizeof(data)));
    SYSCALL_OK(ring = syscall(SYS_io_uring_setup, 1, &p));
    char *sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned),
                    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
    char *cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
                    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
    struct io_uring_sqe *sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
                                     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
                                     IORING_OFF_SQES);
    FAIL_IF(sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED, "mmap: %s",
            strerror(errno));
    sqes[0] = (struct io_uring_sqe){.opcode = IORING_OP_READ, .fd = fd,
                                    .addr = (uintptr_t)got, .len = sizeof(got), .user_data = 42};
    ((unsigned *)(sq + p.sq_off.array))[0] = 0;
    __atomic_store_n((unsigned *)(sq + p.sq_off.tail), 1, __ATOMIC_RELEASE);
    FAIL_IF(syscall(SYS_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) != 1,
            "io_uring_enter: %s", strerror(errno));
    struct io_uring_cqe *cqe = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    FAIL_IF(__atomic_load_n((unsigned *)(cq + p.cq_off.tail), __ATOMIC_ACQUIRE) != 1,
            "no completion");
    FAIL_IF(cqe->user_data != 42 || cqe->res != sizeof(data) || strcmp(got, data),
            "completion %llu: %d bytes, '%s'", (unsigned long long)cqe->user_data, cqe->res, got);
    return NULL;
}

static const char *name_to_handle(void)
{
    struct file_handle *handle = malloc(sizeof(*handle) + MAX_HANDLE_SZ);
    int mount_id;

    handle->handle_bytes = MAX_HANDLE_SZ;
    SYSCALL_OK(name_to_handle_at(AT_FDCWD, "/tmp", handle, &mount_id, 0));
    FAIL_IF(handle->handle_bytes == 0, "an empty handle");
    free(handle);
    return NULL;
}

/* A filter that makes getppid fail with errno 42, in a child. */
static const char *seccomp_filter(void)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 42),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
    int status;
    pid_t child = fork();

    if (child == 0) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
            syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
            _exit(1);
        }
        /* glibc's getppid() cannot fail, so it sets no errno: the raw call. */
        _exit(syscall(SYS_getppid) == -1 && errno == 42 ? 0 : 2);
    }
    SYSCALL_OK(waitpid(child, &status, 0));
    FAIL_IF(!WIFEXITED(status) || WEXITSTATUS(status), "child status %#x (1: no filter, 2: "
            "getppid not filtered)", status);
    return NULL;
}

static const char *memfd(void)
{
    int fd;
    char *p;

    SYSCALL_OK(fd = memfd_create("faultline", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    SYSCALL_OK(write(fd, "sealed", 7));
    SYSCALL_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW));
    FAIL_IF(write(fd, "x", 1) != -1 || errno != EPERM, "a write got past F_SEAL_WRITE");
    p = mmap(NULL, 7, PROT_READ, MAP_SHARED, fd, 0);
    FAIL_IF(p == MAP_FAILED || strcmp(p, "sealed"), "the mapping does not show the data");
    return NULL;
}

static void *touch(void *page)
{
    return (void *)(uintptr_t) * (volatile char *)page;
}

/* A thread faults on a registered page; this one fills it with UFFDIO_COPY. */
static const char *userfaultfd(void)
{
    long page = sysconf(_SC_PAGESIZE);
    struct uffdio_api api = {.api = UFFD_API};
    char *area = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *source = aligned_alloc(page, page);
    struct uffdio_register reg = {.range = {(uintptr_t)area, page},
                                  .mode = UFFDIO_REGISTER_MODE_MISSING};
    struct uffdio_copy copy = {.dst = (uintptr_t)area, .src = (uintptr_t)source, .len = page};
    struct uffd_msg msg;
    pthread_t thread;
    void *seen;
    int fd;

    /* User-mode faults only: what an unprivileged process may ask for. */
    SYSCALL_OK(fd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY));
    SYSCALL_OK(ioctl(fd, UFFDIO_API, &api));
    SYSCALL_OK(ioctl(fd, UFFDIO_REGISTER, &reg));
    source[0] = 'u';
    FAIL_IF((errno = pthread_create(&thread, NULL, touch, area)), "pthread_create: %s",
            strerror(errno));
    SYSCALL_OK(read(fd, &msg, sizeof(msg)));
    FAIL_IF(msg.event != UFFD_EVENT_PAGEFAULT || msg.arg.pagefault.address != (uintptr_t)area,
            "event %u at %#llx", msg.event, (unsigned long long)msg.arg.pagefault.address);
    SYSCALL_OK(ioctl(fd, UFFDIO_COPY, &copy));
    pthread_join(thread, &seen);
    FAIL_IF((uintptr_t)seen != 'u', "the thread read %#lx", (unsigned long)(uintptr_t)seen);
    return NULL;
}

static const char *membarrier(void)
{
    long supported;

    SYSCALL_OK(supported = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0));
    FAIL_IF(!(supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ), "commands %#lx", supported);
    SYSCALL_OK(syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0));
    SYSCALL_OK(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
    return NULL;
}

/* A traced child stops; the tracer reads a word of it and lets it go on. */
static const char *ptrace_child(void)
{
    static long marker = 0x5eed;
    int status;
    pid_t child = fork();

    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        raise(SIGSTOP);
        _exit(0);
    }
    SYSCALL_OK(waitpid(child, &status, 0));
    FAIL_IF(!WIFSTOPPED(status), "child status %#x, want stopped", status);
    errno = 0;
    long word = ptrace(PTRACE_PEEKDATA, child, &marker, NULL);
    FAIL_IF(errno || word != marker, "PEEKDATA: %#lx (%s)", word, strerror(errno));
    SYSCALL_OK(ptrace(PTRACE_CONT, child, NULL, NULL));
    SYSCALL_OK(waitpid(child, &status, 0));
    FAIL_IF(!WIFEXITED(status), "child status %#x after CONT", status);
    return NULL;
}

static const char *process_vm_readv_self(void)
{
    char here[] = "cross memory", got[sizeof(here)] = "";
    struct iovec local = {got, sizeof(got)}, remote = {here, sizeof(here)};

    FAIL_IF(process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != sizeof(here),
            "process_vm_readv: %s", strerror(errno));
    FAIL_IF(strcmp(got, here), "read '%s'", got);
    return NULL;
}

static const char *file_locks(void)
{
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int fd;

    SYSCALL_OK(fd = open("/tmp", O_TMPFILE | O_RDWR, 0600));
    SYSCALL_OK(flock(fd, LOCK_EX | LOCK_NB));
    SYSCALL_OK(flock(fd, LOCK_UN));
    SYSCALL_OK(fcntl(fd, F_SETLK, &lock));
    return NULL;
}

/* A file system of this type is mounted at path. */
static const char *mounted(const char *path, long magic)
{
    struct statfs fs;

    SYSCALL_OK(statfs(path, &fs));
    FAIL_IF(fs.f_type != magic, "%s has file system %#lx, want %#lx", path, (long)fs.f_type,
            magic);
    return NULL;
}

static const char *tmp_is_tmpfs(void) { return mounted("/tmp", TMPFS_MAGIC); }
static const char *proc_and_sys(void)
{
    const char *bad = mounted("/proc", PROC_SUPER_MAGIC);

    return bad ? bad : mounted("/sys", SYSFS_MAGIC);
}

static const char *dev_shm(void)
{
    const char *bad = mounted("/dev/shm", TMPFS_MAGIC);
    int fd;

    if (bad) {
        return bad;
    }
    SYSCALL_OK(fd = shm_open("/faultline", O_CREAT | O_RDWR, 0600));
    SYSCALL_OK(access("/dev/shm/faultline", F_OK));
    SYSCALL_OK(shm_unlink("/faultline"));
    return NULL;
}

static const char *cgroup2(void)
{
    const char *bad = mounted("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC);
    char line[64] = "";
    FILE *own;

    if (bad) {
        return bad;
    }
    own = fopen("/proc/self/cgroup", "r");
    FAIL_IF(!own || !fgets(line, sizeof(line), own), "/proc/self/cgroup: %s", strerror(errno));
    FAIL_IF(strcmp(line, "0::/\n"), "/proc/self/cgroup: '%s', want the root of cgroup v2", line);
    return NULL;
}

static const char *devices(void)
{
    char buf[16];
    struct stat tty;
    int fd;

    SYSCALL_OK(fd = open("/dev/null", O_WRONLY));
    FAIL_IF(write(fd, "x", 1) != 1, "/dev/null refused a write");
    SYSCALL_OK(fd = open("/dev/zero", O_RDONLY));
    FAIL_IF(read(fd, buf, sizeof(buf)) != sizeof(buf) || buf[0] || buf[15], "/dev/zero");
    SYSCALL_OK(fd = open("/dev/full", O_WRONLY));
    FAIL_IF(write(fd, "x", 1) != -1 || errno != ENOSPC, "/dev/full took a write");
    SYSCALL_OK(fd = open("/dev/urandom", O_RDONLY));
    FAIL_IF(read(fd, buf, sizeof(buf)) != sizeof(buf), "/dev/urandom: %s", strerror(errno));
    SYSCALL_OK(stat("/dev/tty", &tty));
    FAIL_IF(!S_ISCHR(tty.st_mode) || major(tty.st_rdev) != 5 || minor(tty.st_rdev) != 0,
            "/dev/tty is not the character device 5:0");
    return NULL;
}

static const struct {
    const char *name;
    const char *(*run)(void);
} facilities[] = {
    {"madvise_fadvise_mincore", madvise_fadvise_mincore},
    {"epoll", epoll},
    {"eventfd", eventfd_counts},
    {"timerfd", timerfd_fires},
    {"signalfd", signalfd_reads},
    {"inotify", inotify},
    {"sysv_ipc", sysv_ipc},
    {"posix_mqueue", posix_mqueue},
    {"unix_sockets", unix_sockets},
    {"tcp_ipv4_loopback", tcp_ipv4},
    {"udp_ipv4_loopback", udp_ipv4},
    {"tcp_ipv6_loopback", tcp_ipv6},
    {"udp_ipv6_loopback", udp_ipv6},
    {"aio", aio},
    {"io_uring", io_uring},
    {"name_to_handle_at", name_to_handle},
    {"seccomp_filter", seccomp_filter},
    {"memfd_seals", memfd},
    {"userfaultfd", userfaultfd},
    {"membarrier", membarrier},
    {"ptrace", ptrace_child},
    {"process_vm_readv", process_vm_readv_self},
    {"file_locks", file_locks},
    {"tmp_is_tmpfs", tmp_is_tmpfs},
    {"dev_shm", dev_shm},
    {"proc_and_sys", proc_and_sys},
    {"cgroup2", cgroup2},
    {"devices", devices},
};

static int wanted(const char *name, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], name)) {
            return 1;
        }
    }
    return argc == 1;
}

int main(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
        if (wanted(facilities[i].name, argc, argv)) {
            const char *bad = facilities[i].run();

            check(facilities[i].name, !bad, "%s", bad ? bad : "");
        }
    }
    return checks_failed;
}
