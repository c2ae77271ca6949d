// Planning a sweep: the instructions of each critical section decoded from
// the ELF (capstone), and the events named, before anything boots.
#include "faultline/campaign/sweep.hpp"

#include <capstone/capstone.h>

#include <filesystem>

#include "faultline/machine/errors.hpp"

namespace faultline {

namespace {

// The instructions decoded from bytes of the ELF from start on, up to and
// including the first that `last` accepts (or as far as the bytes go).
template <typename Last>
std::vector<Instruction> disassemble(const std::string& elf_path, uint64_t start, size_t bytes,
                                     Last&& last) {
    std::string code = read_vaddr_bytes(elf_path, start, bytes);
    csh handle;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) {
        throw Error("capstone: cannot open an x86-64 disassembler");
    }
    cs_option(handle, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
    cs_insn* insns = nullptr;
    size_t count = cs_disasm(handle, reinterpret_cast<const uint8_t*>(code.data()), code.size(),
                             start, 0, &insns);
    std::vector<Instruction> out;
    for (size_t i = 0; i < count; ++i) {
        std::string text = insns[i].mnemonic;
        if (insns[i].op_str[0] != '\0') {
            text += std::string(" ") + insns[i].op_str;
        }
        out.push_back({insns[i].address, text});
        if (last(insns[i])) {
            break;
        }
    }
    cs_free(insns, count);
    cs_close(&handle);
    return out;
}

// Enough bytes past an address for the longest x86 instruction.
constexpr uint64_t kMaxInsn = 15;

}  // namespace

std::vector<Instruction> instructions_of(const std::string& elf_path, const CriticalSection& cs) {
    std::vector<Instruction> out =
        disassemble(elf_path, cs.start, cs.post_commit - cs.start + kMaxInsn,
                    [&](const cs_insn& insn) { return insn.address >= cs.post_commit; });
    if (out.empty() || out.back().addr != cs.post_commit) {
        throw ConfigError(elf_path + ": no instruction boundary at the post-commit address of the "
                          "sequence at " + std::to_string(cs.start));
    }
    return out;
}

std::vector<Instruction> abort_handler_of(const std::string& elf_path, const CriticalSection& cs) {
    // A handler longer than this is cut there: its first part is still its own.
    constexpr size_t kMaxHandlerBytes = 256;
    return disassemble(elf_path, cs.abort, kMaxHandlerBytes, [](const cs_insn& insn) {
        return insn.id == X86_INS_JMP || insn.id == X86_INS_RET;
    });
}

std::vector<Instruction> instructions_in(const std::string& elf_path, uint64_t start,
                                         uint64_t end) {
    std::vector<Instruction> out =
        disassemble(elf_path, start, end - start,
                    [&](const cs_insn& insn) { return insn.address + insn.size >= end; });
    if (out.empty()) {
        throw ConfigError(elf_path + ": no instruction decodes at " + std::to_string(start));
    }
    return out;
}

Event swept_event(const std::string& name, int signo) {
    for (const auto& kind : event_kinds()) {
        if (kind.swept() && kind.name == name) {
            // QEMU refuses the same, but only once the program runs.
            if (kind.arg == FAULTLINE_ARG_SIGNAL && (signo < 1 || signo > 64)) {
                throw ConfigError("signal " + std::to_string(signo) +
                                  ": not a signal number (1-64)");
            }
            return {kind.kind, kind.sweep_arg(signo)};
        }
    }
    throw ConfigError("unknown event '" + name + "' (" + swept_event_list() + ")");
}

SweepPlan plan_sweep(const SweepConfig& config) {
    if (!std::filesystem::is_regular_file(config.host_binary)) {
        throw ConfigError("binary not found: " + config.host_binary);
    }
    SweepPlan plan{config, {}, {}, {}};
    for (const auto& cs : rseq_critical_sections(config.host_binary)) {
        plan.sequences.push_back({0, cs, instructions_of(config.host_binary, cs)});
    }
    // A library with nothing to sweep is only put in the guest: the swept
    // files are those with sections.
    plan.config.libraries.clear();
    for (const auto& library : config.libraries) {
        if (!std::filesystem::is_regular_file(library.host_path)) {
            throw ConfigError("library not found: " + library.host_path);
        }
        auto sections = rseq_critical_sections(library.host_path);
        if (sections.empty()) {
            plan.notes.push_back(library.host_path + " has no rseq critical section (no "
                                 "__rseq_cs_ptr_array section, or an empty one): nothing of it "
                                 "to sweep");
            plan.config.uploads.push_back({library.host_path, library.guest_path, 0644});
            continue;
        }
        plan.config.libraries.push_back(library);
        for (const auto& cs : sections) {
            plan.sequences.push_back(
                {plan.config.libraries.size(), cs, instructions_of(library.host_path, cs)});
        }
    }
    if (plan.sequences.empty()) {
        throw ConfigError(config.host_binary + ": no rseq critical section (no "
                          "__rseq_cs_ptr_array section: a stripped binary or one without rseq "
                          "descriptors listed there)");
    }
    for (const auto& name : config.events) {
        plan.events.emplace_back(name, swept_event(name, config.signo));
    }
    return plan;
}

std::vector<Upload> sweep_uploads(const SweepPlan& plan) {
    const SweepConfig& config = plan.config;
    std::vector<Upload> uploads;
    if (config.files_put) {
        uploads.push_back({config.host_binary, config.guest_program, 0755});
    }
    for (const auto& library : config.libraries) {
        uploads.push_back({library.host_path, library.guest_path, 0644});
    }
    uploads.insert(uploads.end(), config.uploads.begin(), config.uploads.end());
    return uploads;
}

}  // namespace faultline
