// What a faultline machine is made of: QEMU, guest kernel, initramfs,
// firmware, its size, and where its run files go.
#pragma once

#include <string>
#include <vector>

namespace faultline {

// The tree `make` built (FAULTLINE_BUILD overrides the compiled-in path).
std::string build_dir();

struct MachineConfig {
    std::string qemu;          // qemu-system-x86_64 with the faultline patches
    std::string kernel;        // vmlinux (PVH entry)
    std::string initrd;        // initramfs with the agent as /init
    std::string firmware_dir;  // bios-microvm.bin and pvh.bin
    int cpus = 2;
    int memory_mib = 256;
    std::vector<std::string> kernel_args;  // appended to the built-in command line
    // The vCPUs report a component of XSAVE state not in use (XSTATE_BV,
    // XGETBV 1) when it is in its initial configuration (PKRU 0, XMM or YMM
    // upper halves 0), as some CPUs do; off: every component in use.
    bool precise_xinuse = false;
    double boot_timeout_s = 60;
    double command_timeout_s = 120;
    // Holds the QMP socket and console.log. Empty: a fresh temporary
    // directory, removed at shutdown. A given directory is kept.
    std::string run_dir;
    // Where the state at ready is kept between processes (boot_cache.hpp);
    // empty: every boot() boots.
    std::string boot_cache_dir;

    // Paths of the tree `make` built (FAULTLINE_BUILD overrides its
    // location), the boot cache in FAULTLINE_CACHE (~/.cache/faultline)/boot.
    static MachineConfig defaults();
};

}  // namespace faultline
