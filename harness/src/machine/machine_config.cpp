#include "faultline/machine/machine_config.hpp"

#include <cstdlib>

namespace faultline {

std::string build_dir() {
    const char* env = std::getenv("FAULTLINE_BUILD");
    return env && *env ? env : FAULTLINE_BUILD_DIR;
}

MachineConfig MachineConfig::defaults() {
    std::string build = build_dir();
    MachineConfig c;
    c.qemu = build + "/qemu/build/qemu-system-x86_64";
    c.kernel = build + "/linux/vmlinux";
    c.initrd = build + "/linux/initramfs.cpio";
    c.firmware_dir = build + "/firmware";
    const char* cache = std::getenv("FAULTLINE_CACHE");
    const char* home = std::getenv("HOME");
    if (cache && *cache) {
        c.boot_cache_dir = std::string(cache) + "/boot";
    } else if (home && *home) {
        c.boot_cache_dir = std::string(home) + "/.cache/faultline/boot";
    }
    return c;
}

}  // namespace faultline
