#include "faultline/conformance/pks_conformance.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "faultline/campaign/kernel_sweep.hpp"
#include "faultline/conformance/pk_conformance.hpp"
#include "faultline/machine/machine.hpp"

namespace faultline {

namespace {

constexpr const char* kSelftest = "/bin/pks-selftest";

// A kernel sweep of the conformance: which path, which functions, which
// events, and the pks-selftest cases that drive that path in the task's
// own address space (where the triggers count).
struct PathSweep {
    const char* path;
    std::vector<std::string> functions;
    std::vector<std::string> events;
    std::vector<std::string> cases;
    uint32_t hit = 1;
};

std::vector<PathSweep> path_sweeps() {
    const std::vector<std::string> all = kernel_event_names();
    // An irq or a preemption is never taken where interrupts are off, which
    // is the whole of a switch and most of an entry: the NMI is what meets
    // them.
    const std::vector<std::string> nmi{"nmi"};
    const std::vector<std::string> rights{"readonly_blocks_write_allows_read",
                                          "per_task_rights_survive_context_switch"};
    return {
        {"rights change, opening a key", {"pks_set_rights"}, all, rights, 1},
        {"rights change, closing it again", {"pks_set_rights"}, all, rights, 2},
        {"kmap and kunmap", {"__pks_kmap", "__pks_kunmap", "pks_context_kmap"}, all,
         {"kmap_opens_for_the_mapping_context", "irq_kunmap_keeps_what_the_irq_opened"}, 1},
        {"#PF open path (relaxed)", {"pks_fault"}, all,
         {"relaxed_opens_for_the_faulting_context_only"}, 1},
        {"softirq entry and exit", {"pks_softirq_enter", "pks_softirq_exit"}, all,
         {"softirq_runs_with_default_rights"}, 1},
        {"interrupt entry and exit",
         {"irqentry_enter", "irqentry_exit", "irqentry_nmi_enter", "irqentry_nmi_exit"}, all,
         {"interrupt_runs_with_default_rights", "per_task_rights_survive_context_switch"}, 1},
        {"context switch", {"__switch_to"}, nmi, {"per_task_rights_survive_context_switch"}, 1},
    };
}

std::string list(const std::vector<std::string>& items) {
    std::string text;
    for (const auto& item : items) {
        text += (text.empty() ? "" : ",") + item;
    }
    return text;
}

PksCheckResult sweep_check(Machine& machine, const std::string& vmlinux, const PathSweep& s) {
    KernelSweepConfig config;
    config.vmlinux = vmlinux;
    config.functions = s.functions;
    config.events = s.events;
    config.hit = s.hit;
    config.guest_program = kSelftest;
    config.args = s.cases;
    KernelSweepResult result = run_kernel_sweep(machine, plan_kernel_sweep(config));
    // What failed, by event and by the rule that caught it.
    std::map<std::string, std::set<std::string>> caught;
    for (const auto& c : result.cells) {
        if (c.raised && !c.ok) {
            std::set<std::string>& rules = caught[c.event];
            for (models::PksCheck check : c.verdict.failed) {
                rules.insert(models::pks_check_name(check));
            }
            if (!c.program_ok) {
                rules.insert("workload-check");
            }
        }
    }
    std::string detail = std::to_string(result.failed()) + " of " +
                         std::to_string(result.reached()) + " reached cells failed";
    for (const auto& [event, rules] : caught) {
        detail += (event == caught.begin()->first ? ": " : "; ") + event;
        for (const auto& rule : rules) {
            detail += " " + rule;
        }
    }
    if (!result.findings.empty()) {
        detail += "; " + std::to_string(result.findings.size()) +
                  " sets of trials fail only together";
    }
    // A path the workload never takes checked nothing.
    bool reached = result.reached() > 0;
    if (!reached) {
        detail += " (the workload never reached these functions)";
    }
    std::string name = "sweep " + list(s.functions) + " [" + list(s.events) + "]";
    if (s.hit != 1) {
        name += " hit " + std::to_string(s.hit);
    }
    return {std::string(s.path) + ": " + name, result.passed() && reached, detail};
}

}  // namespace

size_t PksConformance::failed() const {
    return size_t(std::count_if(checks.begin(), checks.end(),
                                [](const PksCheckResult& c) { return !c.passed; }));
}

PksConformance run_pks_conformance(Machine& machine, const std::string& vmlinux) {
    PksConformance result;
    RunResult selftest = machine.run(kSelftest, {}, 60000, RunAs::root);
    std::string failing;
    for (size_t at = 0; (at = selftest.stdout_text.find(": FAIL", at)) != std::string::npos;
         ++at) {
        size_t line = selftest.stdout_text.rfind('\n', at);
        line = line == std::string::npos ? 0 : line + 1;
        failing += (failing.empty() ? "" : ", ") + selftest.stdout_text.substr(line, at - line);
    }
    bool selftest_ok = check_passed(selftest);
    result.checks.push_back({"pks-selftest, every case", selftest_ok,
                             selftest_ok ? outcome_of(selftest)
                                         : outcome_of(selftest) +
                                               (failing.empty() ? "" : "; failing: " + failing)});
    for (const auto& s : path_sweeps()) {
        result.checks.push_back(sweep_check(machine, vmlinux, s));
    }
    PkConformance pk = run_pk_conformance(machine);
    result.checks.push_back({"page permissions and keys against PkCheck (conformance pk)",
                             pk.mismatches() == 0,
                             std::to_string(pk.mismatches()) + " mismatches in " +
                                 std::to_string(pk.covered()) + " covered cases"});
    return result;
}

// A line a check: its name padded to 78, the verdict padded to 4, the
// detail whole (it may list every failing case).
std::string pks_conformance_table(const PksConformance& result) {
    constexpr size_t kNameWidth = 78;
    std::string out;
    for (const auto& c : result.checks) {
        std::string name = c.name;
        name.resize(std::max(name.size(), kNameWidth), ' ');
        out += name + (c.passed ? " ok   " : " FAIL ") + c.detail + "\n";
    }
    char total[96];
    std::snprintf(total, sizeof total, "pks conformance: %zu of %zu checks passed (%.1f s)\n",
                  result.checks.size() - result.failed(), result.checks.size(), result.seconds);
    return out + total;
}

nlohmann::json pks_conformance_json(const PksConformance& result) {
    nlohmann::json checks = nlohmann::json::array();
    for (const auto& c : result.checks) {
        checks.push_back({{"name", c.name}, {"passed", c.passed}, {"detail", c.detail}});
    }
    return {{"checks", checks}, {"passed", result.passed()}, {"seconds", result.seconds}};
}

}  // namespace faultline
