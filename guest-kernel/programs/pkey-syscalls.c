/*
 * pkey-syscalls: checks pkey_get and pkey_set of the faultline guest
 * kernel, and its pkey watchdog. One line per check, "NAME: ok" or
 * "NAME: FAIL what happened"; exit status 0 when every check passed.
 *
 * usage: pkey-syscalls [watchdog]   (watchdog: also turn the watchdog on
 * through debugfs and check it undoes a rogue WRPKRU, also on CPU 1 after
 * it went offline and came back, then turn it off)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "checks.h"
#include "pkey-syscalls.h"

#define WATCHDOG_MS "/sys/kernel/debug/x86/pkey_watchdog_ms"
#define WATCHDOG_RESETS "/sys/kernel/debug/x86/pkey_watchdog_resets"
#define CPU1_ONLINE "/sys/devices/system/cpu/cpu1/online"

/* The rights RDPKRU shows for pkey (glibc's pkey_get reads the register). */
static int register_rights(int pkey)
{
    return pkey_get(pkey);
}

static sigjmp_buf fault_jump;
static volatile int fault_code, fault_pkey;

static void on_segv(int signo, siginfo_t *info, void *context)
{
    (void)signo;
    (void)context;
    fault_code = info->si_code;
    fault_pkey = info->si_pkey;
    siglongjmp(fault_jump, 1);
}

/* 0 when the access went through, else the si_code of its SIGSEGV. */
static int try_access(volatile char *p, int write)
{
    fault_code = 0;
    if (sigsetjmp(fault_jump, 1) == 0) {
        if (write) {
            *p = 1;
        } else {
            (void)*p;
        }
    }
    return fault_code;
}

static long read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = -1;

    if (f) {
        if (fscanf(f, "%li", &n) != 1) {
            n = -1;
        }
        fclose(f);
    }
    return n;
}

static int write_number(const char *path, long n)
{
    FILE *f = fopen(path, "w");

    return f && fprintf(f, "%ld", n) > 0 && fclose(f) == 0 ? 0 : -1;
}

/* Burn guest time in user mode, where the watchdog's timer finds the task. */
static void spin_ms(long ms)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
}

/* How many times the calling thread has slept (blocked) so far. */
static long times_slept(void)
{
    FILE *f = fopen("/proc/thread-self/status", "r");
    char line[128];
    long n = -1;

    while (f && fgets(line, sizeof(line), f)) {
        sscanf(line, "voluntary_ctxt_switches: %ld", &n);
    }
    if (f) {
        fclose(f);
    }
    return n;
}

/*
 * pkey_get and pkey_set work on the calling thread's own state: they must
 * not wait for the mmap lock. A thread on CPU 0 holds it for writing for
 * long stretches (mprotect of a large populated region, back and forth)
 * while this one, alone on CPU 1, calls them: it never has a reason to
 * sleep, unless they wait for the lock. (Timing the calls would not tell:
 * the vCPUs take turns, so any call may span a turn of the other CPU.)
 */
enum { FLIP_BYTES = 32 << 20, FLIPS = 20 };

struct flipper {
    char *region;
    volatile int stop;
    volatile long flips;
};

static void *flip_protection(void *arg)
{
    struct flipper *f = arg;

    pin_to(0);
    while (!f->stop) {
        mprotect(f->region, FLIP_BYTES, f->flips % 2 ? PROT_READ | PROT_WRITE : PROT_READ);
        f->flips++;
    }
    return NULL;
}

static void check_calls_without_mmap_lock(int key)
{
    struct flipper f = { 0 };
    long slept, calls = 0;
    cpu_set_t allowed;
    pthread_t thread;

    f.region = mmap(NULL, FLIP_BYTES, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    sched_getaffinity(0, sizeof(allowed), &allowed);
    pin_to(1);
    pthread_create(&thread, NULL, flip_protection, &f);
    while (f.flips < 1) {
    }
    slept = times_slept();
    while (f.flips < 1 + FLIPS) {
        sys_pkey_get(key, 0);
        sys_pkey_set(key, 0, 0);
        calls++;
    }
    slept = times_slept() - slept;
    f.stop = 1;
    pthread_join(thread, NULL);
    sched_setaffinity(0, sizeof(allowed), &allowed);
    munmap(f.region, FLIP_BYTES);
    check("calls_do_not_wait_for_mmap_lock", slept == 0,
          "slept %ld times in %ld pkey_get + pkey_set pairs during %d mprotects", slept, calls,
          FLIPS);
}

/* A key freed while the caller had it open is closed again by the watchdog. */
static void check_watchdog_closes_freed_key(void)
{
    int freed = pkey_alloc(0, 0);

    sys_pkey_set(freed, 0, 0);
    pkey_free(freed);
    pkey_set(freed, 0);
    spin_ms(50);
    check("watchdog_closes_freed_key", register_rights(freed) == PKEY_DISABLE_ACCESS,
          "key %d: rights %d after 50 ms, want %d", freed, register_rights(freed),
          PKEY_DISABLE_ACCESS);
}

/* A thread opened a key through pkey_set; another thread frees it. */
struct freed_elsewhere {
    int key;
    volatile int opened, freed;
    int rights_after;
};

static void *open_then_reopen_after_free(void *arg)
{
    struct freed_elsewhere *f = arg;

    sys_pkey_set(f->key, 0, 0);
    f->opened = 1;
    while (!f->freed) {
    }
    pkey_set(f->key, 0);
    spin_ms(50);
    f->rights_after = register_rights(f->key);
    return NULL;
}

static void check_watchdog_closes_key_freed_by_another_thread(void)
{
    struct freed_elsewhere f = { .key = pkey_alloc(0, 0) };
    pthread_t thread;

    pthread_create(&thread, NULL, open_then_reopen_after_free, &f);
    while (!f.opened) {
    }
    pkey_free(f.key);
    f.freed = 1;
    pthread_join(thread, NULL);
    check("watchdog_closes_key_freed_by_another_thread",
          f.rights_after == PKEY_DISABLE_ACCESS, "key %d: rights %d after 50 ms, want %d",
          f.key, f.rights_after, PKEY_DISABLE_ACCESS);
}

/* A CPU that went offline and came back still has its watchdog. */
static void check_watchdog_after_hotplug(int spare)
{
    cpu_set_t only1;
    int cycled = write_number(CPU1_ONLINE, 0) == 0 && write_number(CPU1_ONLINE, 1) == 0;

    CPU_ZERO(&only1);
    CPU_SET(1, &only1);
    cycled &= sched_setaffinity(0, sizeof(only1), &only1) == 0;
    pkey_set(spare, 0);
    spin_ms(50);
    check("watchdog_after_cpu_hotplug", cycled && register_rights(spare) == PKEY_DISABLE_ACCESS,
          "CPU 1 %s, rights %d after 50 ms there, want %d", cycled ? "cycled" : "not cycled",
          register_rights(spare), PKEY_DISABLE_ACCESS);
}

static void check_watchdog(int key, int spare)
{
    long before = read_number(WATCHDOG_RESETS);

    check("watchdog_switch", before >= 0 && write_number(WATCHDOG_MS, 5) == 0,
          "cannot turn the watchdog on through %s", WATCHDOG_MS);
    /* Behind the kernel's back: open a key nobody allocated, and narrow an allocated one. */
    pkey_set(spare, 0);
    pkey_set(key, PKEY_DISABLE_WRITE);
    check("rogue_wrpkru_took_effect", register_rights(spare) == 0, "rights %d",
          register_rights(spare));
    spin_ms(50);
    check("watchdog_resets_unallocated_key", register_rights(spare) == PKEY_DISABLE_ACCESS,
          "rights %d after 50 ms, want %d", register_rights(spare), PKEY_DISABLE_ACCESS);
    check("watchdog_counts_resets", read_number(WATCHDOG_RESETS) >= before + 1,
          "resets %ld -> %ld", before, read_number(WATCHDOG_RESETS));
    check("watchdog_leaves_allocated_key", register_rights(key) == PKEY_DISABLE_WRITE,
          "rights %d, want %d", register_rights(key), PKEY_DISABLE_WRITE);
    check_watchdog_closes_freed_key();
    check_watchdog_closes_key_freed_by_another_thread();
    check_watchdog_after_hotplug(spare);
    write_number(WATCHDOG_MS, 0);
}

int main(int argc, char **argv)
{
    struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
    int key, spare, rights, ok;
    char *page;

    sigaction(SIGSEGV, &sa, NULL);
    key = pkey_alloc(0, 0);
    if (key < 1) {
        printf("setup: FAIL pkey_alloc: %s\n", strerror(errno));
        return 2;
    }
    spare = key == 15 ? 14 : 15;

    check("get_allocated_key", sys_pkey_get(key, 0) == 0, "rights %d",
          sys_pkey_get(key, 0));
    check("get_key_0", sys_pkey_get(0, 0) == 0, "rights %d", sys_pkey_get(0, 0));
    check_error("get_unallocated_key_ebadf", sys_pkey_get(spare, 0), EBADF);
    check_error("set_unallocated_key_ebadf", sys_pkey_set(spare, 0, 0), EBADF);
    check_error("get_negative_key_einval", sys_pkey_get(-1, 0), EINVAL);
    check_error("get_key_16_einval", sys_pkey_get(16, 0), EINVAL);
    check_error("set_key_16_einval", sys_pkey_set(16, 0, 0), EINVAL);
    check_error("get_flags_einval", sys_pkey_get(key, 1), EINVAL);
    check_error("set_flags_einval", sys_pkey_set(key, 0, 1), EINVAL);
    check_error("set_unknown_rights_einval", sys_pkey_set(key, 4, 0), EINVAL);

    ok = 1;
    for (rights = 0; rights <= (PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE); rights++) {
        ok &= sys_pkey_set(key, rights, 0) == 0 && sys_pkey_get(key, 0) == rights &&
              register_rights(key) == rights;
    }
    check("round_trip_against_rdpkru", ok, "a set/get/RDPKRU triple differed");
    /* Behind the kernel's back: pkey_get reads what is in effect. */
    pkey_set(key, PKEY_DISABLE_WRITE);
    check("get_sees_wrpkru", sys_pkey_get(key, 0) == PKEY_DISABLE_WRITE, "rights %d",
          sys_pkey_get(key, 0));

    page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED || pkey_mprotect(page, 4096, PROT_READ | PROT_WRITE, key)) {
        printf("setup: FAIL mmap/pkey_mprotect: %s\n", strerror(errno));
        return 2;
    }
    sys_pkey_set(key, 0, 0);
    check("access_allowed", try_access(page, 1) == 0 && try_access(page, 0) == 0,
          "si_code %d", fault_code);
    sys_pkey_set(key, PKEY_DISABLE_ACCESS, 0);
    check("disable_access_faults_pkuerr", try_access(page, 0) == SEGV_PKUERR && fault_pkey == key,
          "si_code %d (want %d), si_pkey %d (want %d)", fault_code, SEGV_PKUERR, fault_pkey, key);
    /* The handler ran with the init PKRU and left by siglongjmp: set the rights again. */
    sys_pkey_set(key, PKEY_DISABLE_WRITE, 0);
    check("disable_write_faults_writes_only",
          try_access(page, 0) == 0 && try_access(page, 1) == SEGV_PKUERR,
          "si_code %d", fault_code);
    sys_pkey_set(key, 0, 0);
    check("access_allowed_again", try_access(page, 1) == 0, "si_code %d", fault_code);
    check_calls_without_mmap_lock(key);

    if (argc > 1 && !strcmp(argv[1], "watchdog")) {
        check_watchdog(key, spare);
    }
    return checks_failed;
}
