/*
 * pks-selftest: runs the guest kernel's supervisor protection-key cases
 * (guest-kernel/patches/0012, debugfs pks/test), one line per case, "CASE:
 * ok" or "CASE: FAIL why"; exit status 0 when every case passed.
 *
 * usage: pks-selftest [CASE...]   (none: every case, in the order below,
 * after the check that pks/mode refuses a mode it does not know)
 *
 * Root for debugfs: installed set-user-ID root. Each case runs in the fault mode it is about, set through
 * debugfs pks/mode; the mode found at the start is put back at the end.
 * strict_fault_oopses oopses a kernel thread on purpose (the console shows
 * the oops), so it comes last.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks.h"

#define PKS_TEST "/sys/kernel/debug/pks/test"
#define PKS_MODE "/sys/kernel/debug/pks/mode"

static const struct {
    const char *name;
    const char *mode;
} cases[] = {
    {"default_rights_on_every_cpu", "strict"},
    {"noaccess_blocks_read_and_write", "strict"},
    {"readonly_blocks_write_allows_read", "strict"},
    {"unprotect_reprotect", "strict"},
    {"per_task_rights_survive_context_switch", "strict"},
    {"interrupt_runs_with_default_rights", "strict"},
    {"softirq_runs_with_default_rights", "strict"},
    {"kmap_opens_for_the_mapping_context", "strict"},
    {"kmap_concurrent", "strict"},
    {"strict_kmapped_page_denies_other_contexts", "strict"},
    {"relaxed_unmapped_page_dies", "relaxed"},
    {"fault_on_unmapped_page_of_a_mapped_key_dies", "relaxed"},
    {"relaxed_opens_for_the_faulting_context_only", "relaxed"},
    {"irq_kunmap_keeps_what_the_irq_opened", "strict"},
    {"kunmap_in_another_task_keeps_its_rights", "strict"},
    {"exception_rights_are_its_own", "strict"},
    {"temporary_opening_ends_at_any_switch", "relaxed"},
    {"compound_page_is_one_unit", "strict"},
    {"kmap_at_publication_is_counted", "strict"},
    {"kmap_in_a_release_window_keeps_the_page", "strict"},
    {"release_twice_at_once", "strict"},
    {"freed_key_is_closed_everywhere", "strict"},
    {"nmi_int3_debug_run_with_the_default", "strict"},
    {"cpu_hotplug_gives_the_default_back", "strict"},
    {"softirqs_run_with_the_default_either_way", "strict"},
    {"syscalls_keep_the_tasks_rights", "strict"},
    {"return_to_user_drops_a_temporary_opening", "relaxed"},
    {"child_does_not_inherit_an_opened_key", "strict"},
    {"strict_fault_oopses", "strict"},
};
#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

/* Writes text to path; 0 or the errno. */
static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    int err = 0;

    if (fd < 0) {
        return errno;
    }
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        err = errno;
    }
    close(fd);
    return err;
}

/* path's contents without the trailing newline, or "" */
static void read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);

    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    if (fd >= 0) {
        close(fd);
    }
}

static void run_case(const char *name, const char *mode)
{
    char verdict[512];
    int err = write_file(PKS_MODE, mode);

    if (err) {
        check(name, 0, "setting %s to %s: %s", PKS_MODE, mode, strerror(err));
        return;
    }
    err = write_file(PKS_TEST, name);
    if (err) {
        check(name, 0, "writing the case to %s: %s", PKS_TEST, strerror(err));
        return;
    }
    read_file(PKS_TEST, verdict, sizeof(verdict));
    check(name, strcmp(verdict, "ok") == 0, "%s", strncmp(verdict, "FAIL ", 5) == 0 ?
          verdict + 5 : verdict);
}

static void check_mode_refuses_unknown_names(void)
{
    int fd = open(PKS_MODE, O_WRONLY);
    long ret = fd < 0 ? -1 : write(fd, "lenient", 7);

    check_error("mode_refuses_unknown_names", ret, EINVAL);
    if (fd >= 0) {
        close(fd);
    }
}

/* The index of the case called name, or NR_CASES. */
static size_t case_named(const char *name)
{
    size_t i = 0;

    while (i < NR_CASES && strcmp(cases[i].name, name) != 0) {
        i++;
    }
    return i;
}

int main(int argc, char **argv)
{
    char mode_before[32];
    size_t i;
    int arg;

    for (arg = 1; arg < argc; arg++) {
        if (case_named(argv[arg]) == NR_CASES) {
            fprintf(stderr, "pks-selftest: no case %s\n", argv[arg]);
            return 2;
        }
    }
    read_file(PKS_MODE, mode_before, sizeof(mode_before));
    if (argc == 1) {
        check_mode_refuses_unknown_names();
    }
    for (i = 0; argc == 1 && i < NR_CASES; i++) {
        run_case(cases[i].name, cases[i].mode);
    }
    for (arg = 1; arg < argc; arg++) {
        i = case_named(argv[arg]);
        run_case(cases[i].name, cases[i].mode);
    }
    if (mode_before[0]) {
        write_file(PKS_MODE, mode_before);
    }
    return checks_failed;
}
