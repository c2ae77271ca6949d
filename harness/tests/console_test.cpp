#include "faultline/machine/console.hpp"

#include <gtest/gtest.h>

using faultline::kernel_reports;
using Lines = std::vector<std::string>;

TEST(KernelReports, QuietBootHasNone) {
    EXPECT_EQ(kernel_reports("Linux version 6.12.95\nrseq: ok\n\nRun /init as init process\n"),
              Lines{});
}

TEST(KernelReports, LinesLoseTheSerialConsolesCarriageReturn) {
    EXPECT_EQ(kernel_reports("ok\r\nBUG: unable to handle page fault\r\nCPU: 0\r\n"),
              Lines{"BUG: unable to handle page fault"});
}

TEST(KernelReports, FindsEachKindInOrder) {
    std::string console =
        "booting\n"
        "WARNING: CPU: 1 PID: 52 at arch/x86/mm/pkey-watchdog.c:40 watchdog_check+0x3c/0x90\n"
        "Modules linked in:\n"
        "BUG: kernel NULL pointer dereference, address: 0000000000000070\n"
        "Oops: Oops: 0000 [#1] PREEMPT SMP\n"
        "BUG: KASAN: slab-out-of-bounds in __x64_sys_cpu_opv+0x1a2/0x5c0\n"
        "WARNING: possible circular locking dependency detected\n"
        "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n"
        "INFO: task cpu-opv:71 blocked for more than 120 seconds.\n"
        "kernel BUG at mm/gup.c:212!\n"
        "Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100";
    EXPECT_EQ(kernel_reports(console),
              (Lines{"WARNING: CPU: 1 PID: 52 at arch/x86/mm/pkey-watchdog.c:40 "
                     "watchdog_check+0x3c/0x90",
                     "BUG: kernel NULL pointer dereference, address: 0000000000000070",
                     "Oops: Oops: 0000 [#1] PREEMPT SMP",
                     "BUG: KASAN: slab-out-of-bounds in __x64_sys_cpu_opv+0x1a2/0x5c0",
                     "WARNING: possible circular locking dependency detected",
                     "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
                     "INFO: task cpu-opv:71 blocked for more than 120 seconds.",
                     "kernel BUG at mm/gup.c:212!",
                     "Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100"}));
}
