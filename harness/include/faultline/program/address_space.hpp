// Where a process's files are loaded: the mappings the guest agent reads
// from /proc/PID/maps, and the bias that turns an address in an ELF file
// (its link-time address) into the address it has in that process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace faultline {

// One line of /proc/PID/maps that maps a file.
struct Mapping {
    uint64_t start = 0;
    uint64_t end = 0;
    uint64_t offset = 0;  // in the file
    std::string path;     // in the guest
};

// The file-backed lines of /proc/PID/maps text; throws AgentError for a
// line it cannot read.
std::vector<Mapping> parse_maps(const std::string& text);

// What to add to an address of host_elf to get the address the process
// sees: 0 for a position-dependent executable, the load base for a PIE,
// static-pie or shared library. The file is found among the mappings by
// its guest path, or by base name when guest_path has no '/'. Throws
// ConfigError naming the file when the process has not mapped it.
uint64_t load_bias(const std::string& host_elf, const std::vector<Mapping>& mappings,
                   const std::string& guest_path);

}  // namespace faultline
