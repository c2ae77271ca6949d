#include "faultline/sweep.hpp"

#include <capstone/capstone.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "faultline/errors.hpp"

namespace faultline {

std::vector<Instruction> instructions_of(const std::string& elf_path, const CriticalSection& cs) {
    // Enough bytes past post_commit for the longest x86 instruction.
    constexpr uint64_t kMaxInsn = 15;
    std::string code = read_vaddr_bytes(elf_path, cs.start, cs.post_commit - cs.start + kMaxInsn);
    csh handle;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) {
        throw Error("capstone: cannot open an x86-64 disassembler");
    }
    cs_option(handle, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
    cs_insn* insns = nullptr;
    size_t count = cs_disasm(handle, reinterpret_cast<const uint8_t*>(code.data()), code.size(),
                             cs.start, 0, &insns);
    std::vector<Instruction> out;
    for (size_t i = 0; i < count && insns[i].address <= cs.post_commit; ++i) {
        std::string text = insns[i].mnemonic;
        if (insns[i].op_str[0] != '\0') {
            text += std::string(" ") + insns[i].op_str;
        }
        out.push_back({insns[i].address, text});
    }
    cs_free(insns, count);
    cs_close(&handle);
    if (out.empty() || out.back().addr != cs.post_commit) {
        throw ConfigError(elf_path + ": no instruction boundary at the post-commit address of the "
                          "sequence at " + std::to_string(cs.start));
    }
    return out;
}

namespace {

Event event_named(const std::string& name, int signo) {
    if (name == "preempt") {
        return Event::preempt();
    }
    if (name == "signal") {
        return Event::signal(signo);
    }
    if (name == "migrate") {
        return Event::migrate_away();
    }
    throw ConfigError("unknown event '" + name + "' (preempt, signal, migrate)");
}

}  // namespace

SweepPlan plan_sweep(const SweepConfig& config) {
    if (!std::filesystem::is_regular_file(config.host_binary)) {
        throw ConfigError("binary not found: " + config.host_binary);
    }
    SweepPlan plan{config, {}, {}};
    for (const auto& cs : rseq_critical_sections(config.host_binary)) {
        plan.sequences.emplace_back(cs, instructions_of(config.host_binary, cs));
    }
    if (plan.sequences.empty()) {
        throw ConfigError(config.host_binary + ": no rseq critical section (__rseq_cs_ptr_array)");
    }
    for (const auto& name : config.events) {
        plan.events.emplace_back(name, event_named(name, config.signo));
    }
    return plan;
}

SweepResult run_sweep(Machine& machine, const SweepPlan& plan) {
    const SweepConfig& config = plan.config;
    SweepResult result;
    auto started = std::chrono::steady_clock::now();
    for (const auto& [cs, instructions] : plan.sequences) {
        for (const auto& insn : instructions) {
            for (const auto& [name, event] : plan.events) {
                Process p = machine.spawn(config.guest_program, config.args);
                // Entry 1: where the same thread goes next, the abort
                // handler (aborted) or the instruction itself (resumed).
                machine.arm({{{insn.addr, p.cr3, config.hit}, event},
                             {{cs.abort, p.cr3, 1}, Event::observe(insn.addr)}});
                RunResult run = machine.run_spawned();
                auto firings = machine.firings();

                SweepCell cell;
                cell.cs = cs.start;
                cell.insn_addr = insn.addr;
                cell.insn_text = insn.text;
                cell.event = name;
                cell.fired = !firings.empty() && firings[0].entry == 0;
                if (cell.fired) {
                    cell.fired_icount = firings[0].icount;
                    cell.vcpu = firings[0].vcpu;
                }
                cell.aborted = firings.size() > 1 && firings[1].rip == cs.abort;
                cell.expected_abort = insn.addr >= cs.start && insn.addr < cs.post_commit;
                cell.invariant_ok = !run.signaled && run.exit_code == 0;
                cell.outcome = (run.signaled ? "killed by signal " : "exited ") +
                               std::to_string(run.exit_code);
                cell.ok = cell.fired && cell.aborted == cell.expected_abort && cell.invariant_ok;
                result.cells.push_back(cell);
            }
        }
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    result.trials_per_s = seconds > 0 ? double(result.cells.size()) / seconds : 0;
    return result;
}

std::string sweep_json(const SweepResult& result) {
    nlohmann::json cells = nlohmann::json::array();
    for (const auto& c : result.cells) {
        cells.push_back({{"cs", c.cs},
                         {"insn_addr", c.insn_addr},
                         {"insn", c.insn_text},
                         {"event", c.event},
                         {"fired", c.fired},
                         {"fired_icount", c.fired_icount},
                         {"vcpu", c.vcpu},
                         {"expected_abort", c.expected_abort},
                         {"aborted", c.aborted},
                         {"invariant_ok", c.invariant_ok},
                         {"outcome", c.outcome},
                         {"ok", c.ok}});
    }
    return nlohmann::json{{"trials_per_s", result.trials_per_s}, {"cells", cells}}.dump(1);
}

namespace {

std::string hex(uint64_t v) {
    std::ostringstream s;
    s << "0x" << std::hex << v;
    return s.str();
}

std::string escape(const std::string& text) {
    std::string out;
    for (char ch : text) {
        switch (ch) {
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        default: out += ch;
        }
    }
    return out;
}

// Colour and label of a cell: greens are right, red wrong, grey never fired.
std::pair<const char*, std::string> verdict(const SweepCell& c) {
    if (!c.fired) {
        return {"#bbbbbb", "not fired"};
    }
    if (!c.ok) {
        std::string why = !c.invariant_ok ? c.outcome
                          : c.aborted     ? "aborted, must not"
                                          : "no abort, must";
        return {"#e05050", "FAIL: " + why};
    }
    return {c.aborted ? "#3aa856" : "#a8dcb5", c.aborted ? "aborted" : "committed"};
}

}  // namespace

std::string sweep_html(const SweepResult& result, const std::string& title) {
    std::vector<std::string> events;
    std::map<std::pair<uint64_t, uint64_t>, std::map<std::string, const SweepCell*>> rows;
    std::vector<std::pair<uint64_t, uint64_t>> order;
    for (const auto& c : result.cells) {
        if (std::find(events.begin(), events.end(), c.event) == events.end()) {
            events.push_back(c.event);
        }
        auto key = std::make_pair(c.cs, c.insn_addr);
        if (!rows.count(key)) {
            order.push_back(key);
        }
        rows[key][c.event] = &c;
    }
    size_t failed = 0;
    for (const auto& c : result.cells) {
        failed += !c.ok;
    }
    std::ostringstream h;
    h << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" << escape(title)
      << "</title><style>body{font-family:sans-serif}table{border-collapse:collapse}"
         "td,th{border:1px solid #777;padding:4px 8px}td.i{font-family:monospace}"
         "tr.cs td{background:#eee;font-weight:bold}</style></head><body>"
      << "<h1>" << escape(title) << "</h1><p>" << result.cells.size() << " trials, " << failed
      << " failed, " << result.trials_per_s << " trials/s. Dark green: the event aborted the "
      << "sequence as it must; light green: committed as it must; red: wrong; grey: the "
      << "trigger never fired.</p><table><tr><th>address</th><th>instruction</th>";
    for (const auto& e : events) {
        h << "<th>" << escape(e) << "</th>";
    }
    h << "</tr>";
    uint64_t current_cs = ~uint64_t(0);
    for (const auto& key : order) {
        const auto& cells = rows[key];
        const SweepCell* any = cells.begin()->second;
        if (key.first != current_cs) {
            current_cs = key.first;
            h << "<tr class=\"cs\"><td colspan=\"" << events.size() + 2
              << "\">critical section at " << hex(current_cs) << "</td></tr>";
        }
        h << "<tr><td class=\"i\">" << hex(key.second) << "</td><td class=\"i\">"
          << escape(any->insn_text) << (any->expected_abort ? "" : " (post-commit)")
          << "</td>";
        for (const auto& e : events) {
            auto it = cells.find(e);
            if (it == cells.end()) {
                h << "<td></td>";
                continue;
            }
            auto [colour, label] = verdict(*it->second);
            h << "<td style=\"background:" << colour << "\" title=\"icount "
              << it->second->fired_icount << ", vCPU " << it->second->vcpu << "\">" << escape(label)
              << "</td>";
        }
        h << "</tr>";
    }
    h << "</table></body></html>\n";
    return h.str();
}

}  // namespace faultline
