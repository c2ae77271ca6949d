#include "faultline/program/elf.hpp"

#include <elf.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <optional>

#include "faultline/machine/errors.hpp"
#include "faultline/machine/files.hpp"

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

// Why the bytes of path are not an x86_64 ELF file, in words; empty when they are.
std::string mismatch_of(const std::string& bytes) {
    if (bytes.size() < EI_NIDENT || std::memcmp(bytes.data(), ELFMAG, SELFMAG) != 0) {
        return "not an ELF file";
    }
    if (bytes[EI_CLASS] != ELFCLASS64) {
        return bytes[EI_CLASS] == ELFCLASS32 ? "a 32-bit ELF file (ELFCLASS32), not x86_64"
                                             : "an ELF file of unknown class " +
                                                   std::to_string(int(uint8_t(bytes[EI_CLASS])));
    }
    if (bytes[EI_DATA] != ELFDATA2LSB) {
        return "a big-endian ELF file, not x86_64";
    }
    if (bytes.size() < sizeof(Elf64_Ehdr)) {
        return "";  // the header's own check names it truncated
    }
    Elf64_Half machine;
    std::memcpy(&machine, bytes.data() + offsetof(Elf64_Ehdr, e_machine), sizeof(machine));
    if (machine != EM_X86_64) {
        return "an ELF file for another machine (e_machine " + std::to_string(machine) +
               (machine == EM_AARCH64 ? ", aarch64" : machine == EM_386 ? ", i386" : "") +
               "), not x86_64";
    }
    return "";
}

std::string read_bytes(const std::string& path) {
    std::optional<std::string> bytes = file_bytes(path);
    if (!bytes) {
        throw FileMissing("ELF binary", path);
    }
    return *std::move(bytes);
}

// An x86_64 ELF file read whole; every read of it is bounds-checked, so a
// truncated or corrupt file is a ConfigError naming it, never a crash.
class ElfImage {
public:
    ElfImage(const std::string& path) : path_(path), bytes_(read_bytes(path)) {
        if (std::string why = mismatch_of(bytes_); !why.empty()) {
            throw ConfigError(path + ": " + why);
        }
        Elf64_Ehdr& eh = header_;
        read(0, &eh, sizeof(eh), "ELF header");
        segments_ = table<Elf64_Phdr>(eh.e_phoff, eh.e_phnum, eh.e_phentsize, "program header");
        sections_ = table<Elf64_Shdr>(eh.e_shoff, eh.e_shnum, eh.e_shentsize, "section header");
        if (eh.e_shstrndx >= sections_.size()) {
            throw ConfigError(path + ": no section name table");
        }
        names_ = sections_[eh.e_shstrndx];
    }

    // What the dynamic loader reads: PT_INTERP and the dynamic section.
    DynamicInfo dynamic() const {
        DynamicInfo info;
        for (const auto& ph : segments_) {
            if (ph.p_type == PT_INTERP) {
                std::string interp(std::min<uint64_t>(ph.p_filesz, bytes_.size() + 1), '\0');
                read(ph.p_offset, interp.data(), interp.size(), "PT_INTERP");
                info.interpreter = interp.substr(0, interp.find('\0'));
            }
        }
        auto dynamic = std::find_if(segments_.begin(), segments_.end(),
                                    [](const Elf64_Phdr& ph) { return ph.p_type == PT_DYNAMIC; });
        if (dynamic == segments_.end()) {
            return info;
        }
        std::vector<Elf64_Dyn> entries;
        for (uint64_t off = 0; off + sizeof(Elf64_Dyn) <= dynamic->p_filesz;
             off += sizeof(Elf64_Dyn)) {
            Elf64_Dyn d;
            read(dynamic->p_offset + off, &d, sizeof(d), "dynamic section");
            if (d.d_tag == DT_NULL) {
                break;
            }
            entries.push_back(d);
        }
        uint64_t strtab = 0, strsz = 0;
        for (const auto& d : entries) {
            strtab = d.d_tag == DT_STRTAB ? d.d_un.d_ptr : strtab;
            strsz = d.d_tag == DT_STRSZ ? d.d_un.d_val : strsz;
            info.nodeflib |= d.d_tag == DT_FLAGS_1 && (d.d_un.d_val & DF_1_NODEFLIB);
        }
        uint64_t strings = file_offset(strtab, "DT_STRTAB");
        auto string_at = [&](uint64_t index) {
            if (index >= strsz) {
                throw ConfigError(path_ + ": corrupt dynamic section (a string past DT_STRSZ)");
            }
            uint64_t start = strings + index;
            uint64_t end = start;
            while (end < bytes_.size() && end < strings + strsz && bytes_[end] != '\0') {
                ++end;
            }
            if (end >= bytes_.size() || end >= strings + strsz) {
                throw ConfigError(path_ + ": truncated dynamic string table");
            }
            return bytes_.substr(start, end - start);
        };
        for (const auto& d : entries) {
            switch (d.d_tag) {
            case DT_NEEDED: info.needed.push_back(string_at(d.d_un.d_val)); break;
            case DT_SONAME: info.soname = string_at(d.d_un.d_val); break;
            case DT_RPATH: info.rpath = string_at(d.d_un.d_val); break;
            case DT_RUNPATH:
                info.runpath = string_at(d.d_un.d_val);
                info.has_runpath = true;
                break;
            }
        }
        return info;
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
        for (const auto& ph : segments_) {
            if (ph.p_type == PT_LOAD) {
                return {header_.e_type == ET_DYN, ph.p_vaddr};
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

    // Calls visit(symbol, name) for each defined symbol of the symbol
    // table, until it returns true.
    template <typename Visit>
    void for_each_symbol(Visit&& visit) const {
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
                    visit(sym, name_at(strings.sh_offset + sym.st_name))) {
                    return;
                }
            }
        }
    }

    // The value of a symbol in the symbol table; nullopt when absent.
    std::optional<uint64_t> symbol(const std::string& name) const {
        std::optional<uint64_t> value;
        for_each_symbol([&](const Elf64_Sym& sym, const std::string& sym_name) {
            if (sym_name == name) {
                value = sym.st_value;
            }
            return value.has_value();
        });
        return value;
    }

    void read(uint64_t offset, void* out, size_t len, const char* what) const {
        if (offset > bytes_.size() || bytes_.size() - offset < len) {
            throw ConfigError(path_ + ": truncated ELF file: its " + std::string(what) +
                              " lies past its end (" + std::to_string(bytes_.size()) + " bytes)");
        }
        std::memcpy(out, bytes_.data() + offset, len);
    }

private:
    // The program or section header table: count entries of what's size.
    template <typename Entry>
    std::vector<Entry> table(uint64_t offset, unsigned count, unsigned size,
                             const std::string& what) const {
        if (count && size != sizeof(Entry)) {
            throw ConfigError(path_ + ": corrupt ELF file (" + what + " size " +
                              std::to_string(size) + ")");
        }
        std::vector<Entry> entries(count);
        for (unsigned i = 0; i < count; ++i) {
            read(offset + uint64_t(i) * sizeof(Entry), &entries[i], sizeof(Entry), what.c_str());
        }
        return entries;
    }

    // Where the byte at a virtual address is in the file.
    uint64_t file_offset(uint64_t vaddr, const char* what) const {
        for (const auto& ph : segments_) {
            if (ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz) {
                return ph.p_offset + (vaddr - ph.p_vaddr);
            }
        }
        throw ConfigError(path_ + ": corrupt dynamic section (" + what + " in no loaded segment)");
    }

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
    std::vector<Elf64_Phdr> segments_;
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

std::vector<FunctionSymbol> function_symbols(const std::string& path) {
    std::vector<FunctionSymbol> functions;
    ElfImage(path).for_each_symbol([&](const Elf64_Sym& sym, const std::string& name) {
        if (ELF64_ST_TYPE(sym.st_info) == STT_FUNC && sym.st_size != 0) {
            functions.push_back({name, sym.st_value, sym.st_size});
        }
        return false;
    });
    return functions;
}

ElfLayout elf_layout(const std::string& path) { return ElfImage(path).layout(); }

DynamicInfo dynamic_info(const std::string& path) { return ElfImage(path).dynamic(); }

std::string elf_mismatch(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw FileMissing("ELF file", path);
    }
    std::string header(sizeof(Elf64_Ehdr), '\0');
    in.read(header.data(), std::streamsize(header.size()));
    header.resize(size_t(in.gcount()));
    return mismatch_of(header);
}

std::string read_vaddr_bytes(const std::string& path, uint64_t vaddr, size_t len) {
    ElfImage elf(path);
    std::string bytes(len, '\0');
    bytes.resize(elf.read_vaddr(vaddr, bytes.data(), len));
    return bytes;
}

}  // namespace faultline
