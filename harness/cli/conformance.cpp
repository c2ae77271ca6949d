// faultline conformance rseq|pk|pks: what a kernel under test must pass for
// rseq, QEMU's page-permission and protection-key check against the model,
// and what a kernel under test must pass for supervisor protection keys.
#include <chrono>
#include <cstdio>
#include <set>

#include "cli.hpp"
#include "faultline/conformance/pk_conformance.hpp"
#include "faultline/conformance/pks_conformance.hpp"

namespace faultline::cli {

namespace {

// A case a check: its detail is the failure's message.
template <typename Check>
std::vector<JunitCase> check_cases(const std::string& suite, const std::vector<Check>& checks) {
    std::vector<JunitCase> cases;
    for (const auto& c : checks) {
        cases.push_back({suite, c.name,
                         c.passed ? JunitCase::Verdict::passed : JunitCase::Verdict::failed,
                         c.passed ? "" : c.detail, ""});
    }
    return cases;
}

std::string synopsis() {
    return "faultline conformance rseq [--junit FILE] [OPTIONS]   (e.g. --kernel a kernel under test)\n"
           "       faultline conformance pk [--json FILE] [--junit FILE] [OPTIONS]   (QEMU's\n"
           "                       page-permission and protection-key check against models/\n"
           "                       PkCheck, every case)\n"
           "       faultline conformance pks [--json FILE] [--junit FILE] [OPTIONS]   (e.g. --kernel\n"
           "                       a kernel under test: pks-selftest, kernel sweeps of the PKS\n"
           "                       paths, pk)\n";
}

// What a kernel under test must pass for rseq, on one boot: the sweep of the
// built-in program and of the upstream selftests' own sections, the rseq
// ABI checks, and the upstream selftests themselves. A table, one line a
// check; 0 only when every check passed and the kernel reported no bug.
// A selftest that hangs on a broken kernel (a lock an abort left held) is
// judged after 10 s of guest time: the longest, basic_percpu_ops_test, runs
// 0.12 s on the project's kernel.
constexpr uint32_t kSelftestBudgetMs = 10000;

int conformance_rseq(const Options& o) {
    struct Check {
        std::string name;
        bool passed;
        std::string detail;
    };
    std::vector<Check> checks;
    Machine machine(o.config);
    stop_on_signal(machine);
    boot_machine(machine);
    const std::string programs = build_dir() + "/linux/initramfs/";
    auto sweep_check = [&](const std::string& program, const std::string& guest,
                           const std::vector<std::string>& args,
                           const std::vector<std::string>& events) {
        SweepConfig config;
        config.host_binary = programs + program;
        config.guest_program = guest;
        config.args = args;
        config.events = events;
        config.files_put = false;
        SweepResult result = run_sweep(machine, plan_sweep(config));
        std::set<std::string> failing;
        for (const auto& c : result.cells) {
            if (c.raised && !c.ok) {
                failing.insert(c.event);
            }
        }
        std::string detail = std::to_string(result.failed()) + " of " +
                             std::to_string(result.reached()) + " reached cells failed";
        for (const auto& event : failing) {
            detail += (event == *failing.begin() ? "; columns: " : ", ") + event;
        }
        if (!result.findings.empty()) {
            detail += "; " + std::to_string(result.findings.size()) +
                      " sets of trials break the program only together";
        }
        std::string name = "sweep " + guest;
        for (const auto& a : args) {
            name += " " + a;
        }
        checks.push_back({name, result.passed(), detail});
    };
    auto run_check = [&](const std::string& name, const std::string& program,
                         const std::vector<std::string>& args) {
        RunResult r = machine.run(program, args, kSelftestBudgetMs);
        checks.push_back({name, !r.signaled && !r.timed_out && r.exit_code == 0,
                          r.timed_out ? "out of its budget"
                          : r.signaled ? "killed by signal " + std::to_string(r.exit_code)
                                       : "exited " + std::to_string(r.exit_code)});
    };
    const std::vector<std::string> selftest_events{"preempt", "signal", "migrate",
                                                   "page_fault_blocking"};
    sweep_check("rseq-counter", kBuiltinProgram, {"1", "1000"}, swept_event_names());
    sweep_check("selftests/rseq/param_test", "/selftests/rseq/param_test",
                {"-T", "s", "-t", "2", "-r", "10"}, selftest_events);
    sweep_check("selftests/rseq/basic_percpu_ops_test", "/selftests/rseq/basic_percpu_ops_test",
                {}, selftest_events);
    run_check("rseq ABI checks (/bin/rseq-abi)", "/bin/rseq-abi", {});
    run_check("selftest basic_test", "/selftests/rseq/basic_test", {});
    run_check("selftest basic_percpu_ops_test", "/selftests/rseq/basic_percpu_ops_test", {});
    run_check("selftest param_test -T s -r 100", "/selftests/rseq/param_test",
              {"-T", "s", "-r", "100"});
    size_t failed = 0;
    for (const auto& c : checks) {
        std::printf("%-58s %-4s %s\n", c.name.c_str(), c.passed ? "ok" : "FAIL", c.detail.c_str());
        failed += !c.passed;
    }
    write_junit(o, "faultline conformance rseq", check_cases("conformance rseq", checks));
    size_t reports = tell_kernel_reports(machine.kernel_reports());
    std::printf("rseq conformance: %zu of %zu checks passed\n", checks.size() - failed,
                checks.size());
    return failed == 0 && reports == 0 ? 0 : 1;
}

// QEMU's access-rights and protection-key check against the model, every
// case the guest can set up (faultline/conformance/pk_conformance.hpp): a table, the
// JSON on request; 0 only with no mismatch and no kernel report.
int conformance_pk(const Options& o) {
    auto start = std::chrono::steady_clock::now();
    Machine machine(o.config);
    stop_on_signal(machine);
    boot_machine(machine);
    PkConformance result = run_pk_conformance(machine);
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fputs(pk_conformance_table(result).c_str(), stdout);
    if (!o.json_file.empty()) {
        write_report(o.json_file, pk_conformance_json(result).dump(1) + "\n");
    }
    write_junit(o, "faultline conformance pk", pk_conformance_junit_cases(result));
    size_t reports = tell_kernel_reports(machine.kernel_reports());
    return result.mismatches() == 0 && reports == 0 ? 0 : 1;
}

// What a kernel under test must pass for PKS
// (faultline/conformance/pks_conformance.hpp): a table, one line a check,
// each failing one naming the event and the rule that caught it; 0 only
// when every check passed. The kernel reports the cases print on purpose
// (pks-selftest's relaxed-mode warnings and strict-mode Oops) are the
// workload's; a sweep's cell fails on any beyond them.
int conformance_pks(const Options& o) {
    auto start = std::chrono::steady_clock::now();
    Machine machine(o.config);
    stop_on_signal(machine);
    boot_machine(machine);
    PksConformance result = run_pks_conformance(machine, o.config.kernel);
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fputs(pks_conformance_table(result).c_str(), stdout);
    if (!o.json_file.empty()) {
        write_report(o.json_file, pks_conformance_json(result).dump(1) + "\n");
    }
    write_junit(o, "faultline conformance pks", check_cases("conformance pks", result.checks));
    return result.passed() ? 0 : 1;
}

int conformance(const Options& o) {
    if (o.conformance_target == "pks") {
        return conformance_pks(o);
    }
    return o.conformance_target == "pk" ? conformance_pk(o) : conformance_rseq(o);
}

}  // namespace

const Command conformance_command{"conformance", synopsis, nullptr, conformance};

}  // namespace faultline::cli
