// faultline sweep: every event before every instruction of a program's
// rseq critical sections, each checked against the rseq model; with
// --kernel-function, of kernel functions while a program runs, each checked
// against the PKS interrupt model.
#include <cstdio>
#include <filesystem>
#include <set>

#include "cli.hpp"
#include "faultline/campaign/kernel_sweep.hpp"
#include "faultline/campaign/sweep_report.hpp"

namespace faultline::cli {

namespace {

std::string synopsis() {
    return "faultline sweep [--binary PATH] [--library LIB.so]... [--file HOST[:GUEST]]...\n"
           "                       [--events " + swept_event_list() + "]\n"
           "                       [--json FILE] [--html FILE] [--junit FILE] [--hit N]\n"
           "                       [--signal N] [--require-coverage PCT] [--repro-dir DIR]\n"
           "                       [--shard I/N]\n"
           "                       [OPTIONS] [-- ARGS...]\n"
           "       faultline sweep --kernel-function SYM[,SYM...] [--events " +
           kernel_event_list() + "]\n"
           "                       [--vmlinux PATH] [--every-address-space] [--root]\n"
           "                       [--json FILE] [--html FILE] [--junit FILE] [--hit N]\n"
           "                       [--repro-dir DIR] [--shard I/N]\n"
           "                       [OPTIONS]\n"
           "                       (--binary PATH [-- ARGS...] | -- PROGRAM [ARGS...])\n";
}

std::string notes() {
    return "A kernel sweep fires each event before every instruction of the named\n"
           "functions of the guest kernel (what the compiler inlined into them\n"
           "included), counted while PROGRAM's address space is current (all of them\n"
           "with --every-address-space), and checks the PKS rules: the handler runs\n"
           "with the default IA32_PKRS, the interrupted context gets its own back\n"
           "with the per-CPU cache agreeing, no kernel report, PROGRAM exits 0.\n"
           "A run of several trials that fails while each passes alone is shrunk to\n"
           "a finding: trials none of which can be left out (exit 1).\n"
           "--vmlinux defaults to --kernel, the vmlinux the guest boots.\n";
}

int kernel_sweep(const Options& o) {
    KernelSweepConfig config;
    take_trial_options(o, config);
    config.functions = o.kernel_functions;
    config.hit = o.hit;
    config.user = o.user;
    config.every_address_space = o.every_address_space;
    // The guest boots vmlinux itself (PVH): its symbols are at hand.
    config.vmlinux = o.vmlinux.empty() ? o.config.kernel : o.vmlinux;
    config.repro_dir = o.repro_dir;
    if (!o.binary.empty()) {
        config.guest_program = uploaded_path(o.binary);
        config.host_program = o.binary;
        config.program_put = true;
        config.args = o.program;
        config.uploads = guest_files(o).others(config.guest_program);
    } else if (!o.program.empty()) {
        config.guest_program = o.program.front();
        config.args.assign(o.program.begin() + 1, o.program.end());
        config.uploads = guest_files(o).uploads;
        // The initramfs's programs are beside it on the host, by base name
        // (build/linux/initramfs/pks-selftest is /bin/pks-selftest).
        std::filesystem::path beside =
            std::filesystem::path(o.config.initrd).replace_extension("") /
            std::filesystem::path(config.guest_program).filename();
        if (std::filesystem::is_regular_file(beside)) {
            config.host_program = beside.string();
        } else if (!o.repro_dir.empty()) {
            throw UsageError{"--repro-dir: no host copy of " + config.guest_program + " (" +
                             beside.string() + "), which a reproducer carries; --binary "
                             "uploads one"};
        }
    } else {
        throw UsageError{"a kernel sweep needs a workload: --binary PATH or -- PROGRAM [ARGS...]"};
    }
    KernelSweepPlan plan = plan_kernel_sweep(config);
    Machine machine(o.config);
    stop_on_signal(machine);
    boot_machine(machine);
    return report_kernel_sweep(o, run_kernel_sweep(machine, plan));
}

int sweep(const Options& o) {
    if (!o.kernel_functions.empty()) {
        return kernel_sweep(o);
    }
    SweepConfig config;
    take_campaign_options(o, config);
    config.hit = o.hit;
    if (o.binary.empty()) {
        config.host_binary = build_dir() + "/linux/initramfs/rseq-counter";
        config.guest_program = kBuiltinProgram;
        config.args = o.program.empty() ? std::vector<std::string>{"1", "1000"} : o.program;
        config.files_put = false;
    } else {
        config.host_binary = o.binary;
        config.guest_program = uploaded_path(o.binary);
        config.args = o.program;
    }
    // Bad input is found before anything boots. Each library goes where
    // the guest's loader finds it for the program.
    GuestFiles files = guest_files(o);
    for (size_t k = 0; k < o.libraries.size(); ++k) {
        config.libraries.push_back({o.libraries[k], files.library_guest_paths[k]});
    }
    config.uploads = files.others(config.guest_program);
    SweepPlan plan = plan_sweep(config);
    Machine machine(o.config);
    stop_on_signal(machine);
    boot_machine(machine);
    put_guest_files(machine, sweep_uploads(plan));
    SweepResult result = run_sweep(machine, plan);
    return report_sweep(o, result);
}

}  // namespace

int report_sweep(const Options& o, const SweepResult& result) {
    std::vector<std::string> events = result.identity.at("events");
    const std::string program = result.identity.at("program").at("path");
    std::fputs(sweep_table(result, events).c_str(), stdout);
    if (!o.json_file.empty()) {
        write_report(o.json_file, sweep_json(result));
    }
    if (!o.html_file.empty()) {
        write_report(o.html_file, sweep_html(result, "faultline sweep: " + program));
    }
    write_junit(o, "faultline sweep " + program, sweep_junit_cases(result));
    size_t reports = tell_kernel_reports(result.kernel_reports);
    bool covered = result.reached() * 100 >= size_t(o.require_coverage) * result.cells.size();
    if (!covered) {
        std::fprintf(stderr, "faultline: the workload reached %zu of %zu cells, under the %d%% "
                     "--require-coverage asks for\n", result.reached(), result.cells.size(),
                     o.require_coverage);
    }
    return result.passed() && reports == 0 && covered ? 0 : 1;
}

int report_kernel_sweep(const Options& o, const KernelSweepResult& result) {
    std::vector<std::string> events = result.identity.at("events");
    std::fputs(kernel_sweep_table(result, events).c_str(), stdout);
    // A finding's cells share one.
    std::set<std::string> reproducers;
    for (const auto& c : result.cells) {
        if (!c.reproducer.empty() && reproducers.insert(c.reproducer).second) {
            std::printf("reproducer: %s\n", c.reproducer.c_str());
        }
    }
    if (!o.json_file.empty()) {
        write_report(o.json_file, kernel_sweep_json(result).dump(2) + "\n");
    }
    std::string functions;
    for (const auto& f : result.identity.at("functions")) {
        functions += (functions.empty() ? "" : ",") + f.at("name").get<std::string>();
    }
    const std::string title = "faultline sweep --kernel-function " + functions + " -- " +
                              result.identity.at("program").at("path").get<std::string>();
    if (!o.html_file.empty()) {
        write_report(o.html_file, kernel_sweep_html(result, title));
    }
    write_junit(o, "faultline sweep --kernel-function", kernel_sweep_junit_cases(result));
    return result.passed() ? 0 : 1;
}

const Command sweep_command{"sweep", synopsis, notes, sweep};

}  // namespace faultline::cli
