// QEMU's command line for a faultline machine: a pure function of its
// config, so the harness, the benchmarks and the tests of a bare QEMU all
// start the same machine.
#pragma once

#include <string>
#include <vector>

#include "faultline/machine/machine_config.hpp"

namespace faultline {

// argv, QEMU's path first. The machine starts stopped (-S) with its QMP
// socket (qmp.sock) and console (console.log) in config.run_dir, which must
// be given: ConfigError otherwise.
std::vector<std::string> qemu_command_line(const MachineConfig& config);

}  // namespace faultline
