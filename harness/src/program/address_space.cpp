#include "faultline/program/address_space.hpp"

#include <sstream>

#include "faultline/machine/errors.hpp"
#include "faultline/program/elf.hpp"

namespace faultline {

std::vector<Mapping> parse_maps(const std::string& text) {
    std::vector<Mapping> mappings;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        // start-end perms offset dev inode [path]
        std::istringstream in(line);
        std::string range, perms, offset, dev, inode, path;
        in >> range >> perms >> offset >> dev >> inode;
        size_t dash = range.find('-');
        if (!in || dash == std::string::npos) {
            throw AgentError("malformed /proc/PID/maps line: " + line);
        }
        std::getline(in >> std::ws, path);
        if (path.empty() || path.front() != '/') {
            continue;  // anonymous, [heap], [stack], [vdso]...
        }
        try {
            mappings.push_back({std::stoull(range.substr(0, dash), nullptr, 16),
                                std::stoull(range.substr(dash + 1), nullptr, 16),
                                std::stoull(offset, nullptr, 16), path});
        } catch (const std::logic_error&) {
            throw AgentError("malformed /proc/PID/maps line: " + line);
        }
    }
    return mappings;
}

namespace {

bool names(const Mapping& m, const std::string& guest_path) {
    if (guest_path.find('/') != std::string::npos) {
        return m.path == guest_path;
    }
    return m.path.size() > guest_path.size() &&
           m.path.compare(m.path.size() - guest_path.size() - 1, std::string::npos,
                          "/" + guest_path) == 0;
}

}  // namespace

uint64_t load_bias(const std::string& host_elf, const std::vector<Mapping>& mappings,
                   const std::string& guest_path) {
    ElfLayout layout = elf_layout(host_elf);
    for (const auto& m : mappings) {
        // The first load segment is mapped from the file's first page.
        if (names(m, guest_path) && m.offset == 0) {
            return layout.position_independent ? m.start - (layout.first_load & ~uint64_t(0xfff))
                                               : 0;
        }
    }
    throw ConfigError(guest_path + " is not loaded by the program (it has no mapping of it)");
}

}  // namespace faultline
