/*
 * The report format of the guest's check programs: one line per check,
 * "NAME: ok" or "NAME: FAIL what happened", each read by pytest as its own
 * result. checks_failed is the program's exit status.
 */
#ifndef FAULTLINE_CHECKS_H
#define FAULTLINE_CHECKS_H

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int checks_failed;

static __attribute__((format(printf, 3, 4))) void check(const char *name, int ok,
                                                        const char *fmt, ...)
{
    va_list ap;

    printf("%s: %s", name, ok ? "ok" : "FAIL ");
    if (!ok) {
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        checks_failed = 1;
    }
    printf("\n");
    fflush(stdout);
}

/* A call expected to fail with errno want. */
static inline void check_error(const char *name, long ret, int want)
{
    check(name, ret == -1 && errno == want, "returned %ld, errno %d (%s), want errno %d", ret,
          errno, strerror(errno), want);
}

/* Checks that need a thread on one CPU (the programs define _GNU_SOURCE). */
static inline void pin_to(int cpu)
{
    cpu_set_t only;

    CPU_ZERO(&only);
    CPU_SET(cpu, &only);
    sched_setaffinity(0, sizeof(only), &only);
}

#endif
