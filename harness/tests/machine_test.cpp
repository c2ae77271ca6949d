// The C++ API against the real emulator and guest, without Python.
#include "faultline/machine/machine.hpp"

#include <gtest/gtest.h>

#include "faultline/machine/errors.hpp"

using namespace faultline;

TEST(Machine, BootsAndRunsTheRseqCounterOnEveryVcpu) {
    Machine machine(MachineConfig::defaults());
    BootInfo info = machine.boot();
    EXPECT_EQ(info.cpus, 2);
    EXPECT_EQ(info.qemu_version, "10.0.2");
    EXPECT_EQ(info.kernel_release.rfind("6.12", 0), 0u) << info.kernel_release;

    RunResult r = machine.run("/bin/rseq-counter", {"2", "2000"});
    EXPECT_EQ(r.exit_code, 0) << r.stdout_text << r.stderr_text;
    EXPECT_FALSE(r.signaled);
    EXPECT_NE(r.stdout_text.find("cpu 0: "), std::string::npos);
    EXPECT_NE(r.stdout_text.find("cpu 1: "), std::string::npos);
    EXPECT_NE(r.stdout_text.find("== expected 8000: ok"), std::string::npos) << r.stdout_text;
    EXPECT_GT(r.icount, 0u);
    EXPECT_GT(machine.icount(), info.icount_at_ready + r.icount - 1);
}

TEST(Machine, MissingKernelNamesThePath) {
    MachineConfig config = MachineConfig::defaults();
    config.kernel = "/nonexistent/vmlinux";
    Machine machine(config);
    try {
        machine.boot();
        FAIL() << "boot succeeded without a kernel";
    } catch (const FileMissing& e) {
        EXPECT_EQ(e.path(), "/nonexistent/vmlinux");
    }
}

TEST(Machine, CommandsBeforeBootAreRefused) {
    Machine machine(MachineConfig::defaults());
    EXPECT_THROW(machine.run("/bin/rseq-counter"), ConfigError);
}

TEST(Machine, AnInterruptCheckEndsTheWaitAndTheMachine) {
    struct Interrupted {};
    Machine machine(MachineConfig::defaults());
    machine.boot();
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    machine.set_interrupt_check([until] {
        if (std::chrono::steady_clock::now() > until) {
            throw Interrupted{};
        }
    });
    EXPECT_THROW(machine.run("/bin/hang"), Interrupted);
    EXPECT_LT(std::chrono::steady_clock::now() - until, std::chrono::seconds(1));
    EXPECT_THROW(machine.run("/bin/hang"), Error);
}
