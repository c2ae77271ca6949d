#include "faultline/machine/qemu_command_line.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "faultline/machine/errors.hpp"

using namespace faultline;
using Args = std::vector<std::string>;

namespace {

MachineConfig config_in(const std::string& run_dir) {
    MachineConfig c;
    c.qemu = "/q/qemu-system-x86_64";
    c.kernel = "/k/vmlinux";
    c.initrd = "/k/initramfs.cpio";
    c.firmware_dir = "/fw";
    c.cpus = 3;
    c.memory_mib = 512;
    c.run_dir = run_dir;
    return c;
}

// The value after each occurrence of option, in order.
Args values_of(const Args& argv, const std::string& option) {
    Args values;
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] == option) {
            values.push_back(argv[i + 1]);
        }
    }
    return values;
}

}  // namespace

TEST(QemuCommandLine, StartsWithQemuAndStartsTheMachineStopped) {
    Args argv = qemu_command_line(config_in("/run/a"));
    ASSERT_FALSE(argv.empty());
    EXPECT_EQ(argv[0], "/q/qemu-system-x86_64");
    EXPECT_EQ(std::count(argv.begin(), argv.end(), "-S"), 1);
}

TEST(QemuCommandLine, HoldsTheConfigsMachine) {
    Args argv = qemu_command_line(config_in("/run/a"));
    EXPECT_EQ(values_of(argv, "-M"), Args{"microvm,acpi=on,pic=off,rtc=on,isa-serial=on"});
    EXPECT_EQ(values_of(argv, "-cpu"), Args{"max,vendor=GenuineIntel,-rdrand,-rdseed"});
    EXPECT_EQ(values_of(argv, "-smp"), Args{"3"});
    EXPECT_EQ(values_of(argv, "-m"), Args{"512"});
    EXPECT_EQ(values_of(argv, "-icount"), Args{"shift=0,sleep=off"});
    EXPECT_EQ(values_of(argv, "-rtc"), Args{"clock=vm,base=2025-01-01T00:00:00"});
    EXPECT_EQ(values_of(argv, "-L"), Args{"/fw"});
    EXPECT_EQ(values_of(argv, "-kernel"), Args{"/k/vmlinux"});
    EXPECT_EQ(values_of(argv, "-initrd"), Args{"/k/initramfs.cpio"});
    EXPECT_EQ(values_of(argv, "-device"),
              (Args{"faultline-mailbox,id=mailbox", "faultline-inject,id=inject"}));
}

TEST(QemuCommandLine, KernelArgsFollowTheBuiltInKernelCommandLine) {
    MachineConfig config = config_in("/run/a");
    EXPECT_EQ(values_of(qemu_command_line(config), "-append"),
              Args{"console=ttyS0 loglevel=5 nokaslr random.trust_cpu=off tsc=reliable "
                   "no_timer_check lpj=10000000 panic=0"});
    config.kernel_args = {"rseq.debug=1", "quiet"};
    EXPECT_EQ(values_of(qemu_command_line(config), "-append"),
              Args{"console=ttyS0 loglevel=5 nokaslr random.trust_cpu=off tsc=reliable "
                   "no_timer_check lpj=10000000 panic=0 rseq.debug=1 quiet"});
}

TEST(QemuCommandLine, PreciseXinuseIsACpuProperty) {
    MachineConfig config = config_in("/run/a");
    config.precise_xinuse = true;
    EXPECT_EQ(values_of(qemu_command_line(config), "-cpu"),
              Args{"max,vendor=GenuineIntel,-rdrand,-rdseed,precise-xinuse=on"});
}

TEST(QemuCommandLine, ConsoleAndQmpSocketAreInTheRunDirectory) {
    Args argv = qemu_command_line(config_in("/run/b"));
    EXPECT_EQ(values_of(argv, "-chardev"), Args{"file,id=console,append=on,path=/run/b/console.log"});
    EXPECT_EQ(values_of(argv, "-serial"), Args{"chardev:console"});
    EXPECT_EQ(values_of(argv, "-qmp"), Args{"unix:/run/b/qmp.sock,server=on,wait=off"});
}

TEST(QemuCommandLine, NeedsARunDirectory) {
    EXPECT_THROW(qemu_command_line(config_in("")), ConfigError);
}
