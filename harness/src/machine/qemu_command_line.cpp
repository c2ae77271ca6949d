#include "faultline/machine/qemu_command_line.hpp"

#include "faultline/machine/errors.hpp"

namespace faultline {

namespace {

// Every part of the command line serves the same boot every time or a short
// one under -icount: no KASLR, no trust in CPU randomness, no TSC watchdog
// or timer check, the delay loop preset (lpj = TSC cycles per jiffy: 1 GHz
// virtual TSC at HZ=100) instead of calibrated on every CPU, all of which
// busy-wait in guest time; a console that prints warnings and worse but not
// the boot chatter (each byte is an I/O exit, and the harness reads every
// kernel report from it); and a panicking kernel that stays put so the
// harness can read why.
constexpr const char* kKernelCommandLine =
    "console=ttyS0 loglevel=5 nokaslr random.trust_cpu=off tsc=reliable no_timer_check lpj=10000000 "
    "panic=0";

}  // namespace

std::vector<std::string> qemu_command_line(const MachineConfig& config) {
    if (config.run_dir.empty()) {
        throw ConfigError("the QEMU command line needs a run directory");
    }
    std::string cmdline = kKernelCommandLine;
    for (const auto& arg : config.kernel_args) {
        cmdline += " " + arg;
    }
    const std::string& run = config.run_dir;
    return {
        config.qemu, "-nodefaults", "-no-user-config", "-display", "none",
        "-S",  // nothing runs before the harness listens on QMP
        // ACPI for the second vCPU. No 8259: a HW-reduced ACPI guest never
        // programs it, and its reset vector base 0 turns a PIT tick into #DE.
        "-M", "microvm,acpi=on,pic=off,rtc=on,isa-serial=on",
        // RDRAND/RDSEED would make every boot different. An Intel vendor
        // makes Linux take the TSC and APIC timer rates from CPUID 0x15
        // (qemu-patches/0005) instead of busy-waiting to calibrate them.
        "-cpu", std::string("max,vendor=GenuineIntel,-rdrand,-rdseed") +
                    (config.precise_xinuse ? ",precise-xinuse=on" : ""),
        "-smp", std::to_string(config.cpus), "-m", std::to_string(config.memory_mib),
        // One instruction per virtual nanosecond; idle time skipped, not slept.
        "-icount", "shift=0,sleep=off",
        "-rtc", "clock=vm,base=2025-01-01T00:00:00",
        "-L", config.firmware_dir,
        "-kernel", config.kernel, "-initrd", config.initrd, "-append", cmdline,
        // Appended to: a machine loaded from the boot cache starts its log
        // with what the boot printed.
        "-chardev", "file,id=console,append=on,path=" + run + "/console.log",
        "-serial", "chardev:console",
        "-device", "faultline-mailbox,id=mailbox",
        "-device", "faultline-inject,id=inject",
        "-qmp", "unix:" + run + "/qmp.sock,server=on,wait=off",
    };
}

}  // namespace faultline
