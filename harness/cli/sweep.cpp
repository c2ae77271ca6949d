// faultline sweep: every event before every instruction of a program's
// rseq critical sections, each checked against the rseq model.
#include <cstdio>
#include <filesystem>

#include "cli.hpp"
#include "faultline/campaign/sweep_report.hpp"

namespace faultline::cli {

namespace {

std::string synopsis() {
    return "faultline sweep [--binary PATH] [--library LIB.so]... [--file HOST[:GUEST]]...\n"
           "                       [--events " + swept_event_list() + "]\n"
           "                       [--json FILE] [--html FILE] [--hit N] [--signal N]\n"
           "                       [--require-coverage PCT] [--repro-dir DIR] [--shard I/N]\n"
           "                       [OPTIONS] [-- ARGS...]\n";
}

int sweep(const Options& o) {
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
    machine.boot();
    put_guest_files(machine, sweep_uploads(plan));
    SweepResult result = run_sweep(machine, plan);

    std::fputs(sweep_table(result, config.events).c_str(), stdout);
    if (!o.json_file.empty()) {
        write_report(o.json_file, sweep_json(result));
    }
    if (!o.html_file.empty()) {
        write_report(o.html_file, sweep_html(result, "faultline sweep: " + config.guest_program));
    }
    size_t reports = tell_kernel_reports(machine.kernel_reports());
    bool covered = result.reached() * 100 >= size_t(o.require_coverage) * result.cells.size();
    if (!covered) {
        std::fprintf(stderr, "faultline: the workload reached %zu of %zu cells, under the %d%% "
                     "--require-coverage asks for\n", result.reached(), result.cells.size(),
                     o.require_coverage);
    }
    return result.passed() && reports == 0 && covered ? 0 : 1;
}

}  // namespace

const Command sweep_command{"sweep", synopsis, nullptr, sweep};

}  // namespace faultline::cli
