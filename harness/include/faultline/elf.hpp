// Reads the rseq critical sections of a static x86_64 ELF binary from its
// __rseq_cs_ptr_array section (the kernel selftests' and librseq's
// convention: one pointer per struct rseq_cs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace faultline {

struct CriticalSection {
    uint64_t start = 0;        // start_ip: first instruction of the sequence
    uint64_t post_commit = 0;  // start_ip + post_commit_offset: first one after the commit
    uint64_t abort = 0;        // abort_ip
};

// Throws FileMissing, or ConfigError for a file that is not an x86_64 ELF.
// A binary without the section has no critical sections: an empty list.
std::vector<CriticalSection> rseq_critical_sections(const std::string& path);

// The address of a defined symbol (a stripped binary has none): where to
// put a trigger or a page_fault event. Throws ConfigError when absent.
uint64_t symbol_address(const std::string& path, const std::string& name);

// Up to len bytes of the loaded image at vaddr (fewer at a section's end).
std::string read_vaddr_bytes(const std::string& path, uint64_t vaddr, size_t len);

}  // namespace faultline
