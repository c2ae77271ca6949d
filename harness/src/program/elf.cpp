#include "faultline/program/elf.hpp"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

#include "faultline/machine/errors.hpp"

namespace faultline {

namespace {

// The kernel's struct rseq_cs (include/uapi/linux/rseq.h).
struct RseqCs {
    uint32_t version;
    uint32_t flags;
    uint64_t start_ip;
    uint64_t post_commit_offset;
    uint64_t abort_ip;
};

class ElfImage {
public:
    ElfImage(const std::string& path) : path_(path) {
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            throw FileMissing("ELF binary", path);
        }
        bytes_.assign(std::istreambuf_iterator<char>(in), {});
        Elf64_Ehdr& eh = header_;
        read(0, &eh, sizeof(eh), "ELF header");
        if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
            eh.e_machine != EM_X86_64) {
            throw ConfigError(path + ": not an x86_64 ELF file");
        }
        for (unsigned i = 0; i < eh.e_shnum; ++i) {
            Elf64_Shdr sh;
            read(eh.e_shoff + uint64_t(i) * eh.e_shentsize, &sh, sizeof(sh), "section header");
            sections_.push_back(sh);
        }
        if (eh.e_shstrndx >= sections_.size()) {
            throw ConfigError(path + ": no section name table");
        }
        names_ = sections_[eh.e_shstrndx];
    }

    const Elf64_Shdr* section(const std::string& name) const {
        for (const auto& sh : sections_) {
            if (sh.sh_name < names_.sh_size && name == name_at(names_.sh_offset + sh.sh_name)) {
                return &sh;
            }
        }
        return nullptr;
    }

    ElfLayout layout() const {
        ElfLayout layout{header_.e_type == ET_DYN, 0};
        for (unsigned i = 0; i < header_.e_phnum; ++i) {
            Elf64_Phdr ph;
            read(header_.e_phoff + uint64_t(i) * header_.e_phentsize, &ph, sizeof(ph),
                 "program header");
            if (ph.p_type == PT_LOAD) {
                layout.first_load = ph.p_vaddr;
                return layout;
            }
        }
        throw ConfigError(path_ + ": no loadable segment");
    }

    // Reads up to len bytes at a virtual address, within the allocated
    // section holding it; returns how many.
    size_t read_vaddr(uint64_t vaddr, void* out, size_t len) const {
        for (const auto& sh : sections_) {
            if ((sh.sh_flags & SHF_ALLOC) && sh.sh_type == SHT_PROGBITS && vaddr >= sh.sh_addr &&
                vaddr < sh.sh_addr + sh.sh_size) {
                len = std::min<uint64_t>(len, sh.sh_addr + sh.sh_size - vaddr);
                read(sh.sh_offset + (vaddr - sh.sh_addr), out, len, "loaded bytes");
                return len;
            }
        }
        throw ConfigError(path_ + ": no section holds address " + std::to_string(vaddr));
    }

    // The value of a symbol in the symbol table; nullopt when absent.
    std::optional<uint64_t> symbol(const std::string& name) const {
        for (const auto& sh : sections_) {
            if (sh.sh_type != SHT_SYMTAB || sh.sh_link >= sections_.size() ||
                sh.sh_entsize != sizeof(Elf64_Sym)) {
                continue;
            }
            const Elf64_Shdr& strings = sections_[sh.sh_link];
            for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= sh.sh_size; off += sizeof(Elf64_Sym)) {
                Elf64_Sym sym;
                read(sh.sh_offset + off, &sym, sizeof(sym), "symbol");
                if (sym.st_shndx != SHN_UNDEF && sym.st_name < strings.sh_size &&
                    name == name_at(strings.sh_offset + sym.st_name)) {
                    return sym.st_value;
                }
            }
        }
        return std::nullopt;
    }

    void read(uint64_t offset, void* out, size_t len, const char* what) const {
        if (offset > bytes_.size() || bytes_.size() - offset < len) {
            throw ConfigError(path_ + ": truncated " + what);
        }
        std::memcpy(out, bytes_.data() + offset, len);
    }

private:
    std::string name_at(uint64_t offset) const {
        size_t end = offset;
        while (end < bytes_.size() && bytes_[end] != '\0') {
            ++end;
        }
        return std::string(bytes_.begin() + long(std::min<size_t>(offset, bytes_.size())),
                           bytes_.begin() + long(end));
    }

    std::string path_;
    std::string bytes_;
    Elf64_Ehdr header_{};
    std::vector<Elf64_Shdr> sections_;
    Elf64_Shdr names_{};
};

}  // namespace

std::vector<CriticalSection> rseq_critical_sections(const std::string& path) {
    ElfImage elf(path);
    std::vector<CriticalSection> found;
    const Elf64_Shdr* array = elf.section("__rseq_cs_ptr_array");
    if (!array) {
        return found;
    }
    for (uint64_t off = 0; off + 8 <= array->sh_size; off += 8) {
        uint64_t cs_addr;
        elf.read(array->sh_offset + off, &cs_addr, 8, "__rseq_cs_ptr_array");
        RseqCs cs;
        if (elf.read_vaddr(cs_addr, &cs, sizeof(cs)) != sizeof(cs)) {
            throw ConfigError(path + ": truncated rseq_cs");
        }
        found.push_back({cs.start_ip, cs.start_ip + cs.post_commit_offset, cs.abort_ip, cs_addr,
                         cs.version, cs.flags});
    }
    return found;
}

}  // namespace faultline

namespace faultline {

uint64_t symbol_address(const std::string& path, const std::string& name) {
    ElfImage elf(path);
    if (auto value = elf.symbol(name)) {
        return *value;
    }
    throw ConfigError(path + ": no symbol '" + name + "'");
}

ElfLayout elf_layout(const std::string& path) { return ElfImage(path).layout(); }

std::string read_vaddr_bytes(const std::string& path, uint64_t vaddr, size_t len) {
    ElfImage elf(path);
    std::string bytes(len, '\0');
    bytes.resize(elf.read_vaddr(vaddr, bytes.data(), len));
    return bytes;
}

}  // namespace faultline
