// faultline boot: boot the guest and say how it came up.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli.hpp"

namespace faultline::cli {

namespace {

std::string synopsis() { return "faultline boot [--json] [OPTIONS]\n"; }

int boot(const Options& o) {
    Machine machine(o.config);
    stop_on_signal(machine);
    BootInfo info = boot_machine(machine);
    if (o.json) {
        std::cout << nlohmann::json{{"ready_s", info.ready_s},
                                    {"icount_at_ready", info.icount_at_ready},
                                    {"cpus", info.cpus},
                                    {"kernel_release", info.kernel_release},
                                    {"qemu_version", info.qemu_version}}
                         .dump()
                  << "\n";
    } else {
        describe_boot(std::cout, info);
    }
    return 0;
}

}  // namespace

const Command boot_command{"boot", synopsis, nullptr, boot};

}  // namespace faultline::cli
