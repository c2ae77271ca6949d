// Reads the rseq critical sections of an x86_64 ELF file (executable,
// position-independent or not, or shared library) from its
// __rseq_cs_ptr_array section (the kernel selftests' and librseq's
// convention: one pointer per struct rseq_cs). Addresses are the file's own
// (link-time); load_bias() (address_space.hpp) gives what to add in a
// process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace faultline {

struct CriticalSection {
    uint64_t start = 0;        // start_ip: first instruction of the sequence
    uint64_t post_commit = 0;  // start_ip + post_commit_offset: first one after the commit
    uint64_t abort = 0;        // abort_ip
    uint64_t descriptor = 0;   // where its struct rseq_cs is
    uint32_t version = 0;      // and that struct's version and flags
    uint32_t flags = 0;
};

// Throws FileMissing, or ConfigError for a file that is not an x86_64 ELF.
// A binary without the section has no critical sections: an empty list.
std::vector<CriticalSection> rseq_critical_sections(const std::string& path);

// How a file is loaded: position-independent files (ET_DYN: PIE,
// static-pie, shared libraries) go wherever the loader puts them.
struct ElfLayout {
    bool position_independent = false;
    uint64_t first_load = 0;  // p_vaddr of the first PT_LOAD segment
};
ElfLayout elf_layout(const std::string& path);

// The address of a defined symbol (a stripped binary has none): where to
// put a trigger or a page_fault event. Throws ConfigError when absent.
uint64_t symbol_address(const std::string& path, const std::string& name);

// A function of the symbol table (STT_FUNC with a size): what the compiler
// inlined into it is in [addr, addr + size) too.
struct FunctionSymbol {
    std::string name;
    uint64_t addr = 0;
    uint64_t size = 0;
};
// Every such function, in symbol-table order (a static function's name may
// come more than once, from several files).
std::vector<FunctionSymbol> function_symbols(const std::string& path);

// What the dynamic loader reads of a file to load it and what it needs
// (its program headers and dynamic section).
struct DynamicInfo {
    std::string interpreter;           // PT_INTERP; empty: a static program
    std::vector<std::string> needed;   // DT_NEEDED, in order
    std::string soname;                // DT_SONAME
    std::string rpath, runpath;        // DT_RPATH, DT_RUNPATH: ':'-separated
    bool has_runpath = false;          // then the loader ignores DT_RPATH
    bool nodeflib = false;             // DF_1_NODEFLIB: no cache, no default dirs
};
// ConfigError naming the file for one that is not an x86_64 ELF file, or is
// truncated or corrupt (every read is bounds-checked); FileMissing.
DynamicInfo dynamic_info(const std::string& path);

// Why a file is not an x86_64 ELF file ("a 32-bit ELF file (ELFCLASS32),
// not x86_64", "an ELF file for another machine (e_machine 183, aarch64),
// not x86_64", "not an ELF file"), from its header alone; empty when it is
// one. What the dynamic loader skips a candidate for. FileMissing.
std::string elf_mismatch(const std::string& path);

// Up to len bytes of the loaded image at vaddr (fewer at a section's end).
std::string read_vaddr_bytes(const std::string& path, uint64_t vaddr, size_t len);

}  // namespace faultline
