// faultline explore: seeded random schedules of several events per run,
// each failing run shrunk to a minimal schedule.
#include <cstdio>

#include "cli.hpp"

namespace faultline::cli {

namespace {

std::string synopsis() {
    return "faultline explore --binary PATH --depth N --runs R --seed S [--events ...]\n"
           "                       [--file HOST[:GUEST]]... [--max-hit H] [--signal N] [--shard I/N] [--json FILE]\n"
           "                       [--junit FILE] [--repro-dir DIR] [OPTIONS] [-- ARGS...]\n"
           "         fires N events per run (N >= 1) at seeded random instructions of the\n"
           "         critical sections and their abort handlers, hit counts 1..H (3), for R\n"
           "         runs (R >= 1); each failing run is shrunk to a minimal schedule\n";
}

int explore(const Options& o) {
    ExploreConfig config = o.explore;
    config.host_binary = o.binary;
    config.guest_program = uploaded_path(o.binary);
    config.args = o.program;
    take_campaign_options(o, config);
    // Bad input is found before anything boots.
    GuestFiles files = guest_files(o);
    config.uploads = files.others(config.guest_program);
    ExplorePlan plan = plan_explore(config);
    Machine machine(o.config);
    stop_on_signal(machine);
    boot_machine(machine);
    put_guest_files(machine, files.uploads);
    return report_explore(o, run_explore(machine, plan));
}

}  // namespace

int report_explore(const Options& o, const ExploreResult& result) {
    std::fputs(explore_table(result).c_str(), stdout);
    if (!o.json_file.empty()) {
        write_report(o.json_file, explore_json(result));
    }
    write_junit(o, "faultline explore " + result.config.guest_program, explore_junit_cases(result));
    size_t reports = tell_kernel_reports(result.kernel_reports);
    return result.findings.empty() && reports == 0 ? 0 : 1;
}

const Command explore_command{"explore", synopsis, nullptr, explore};

}  // namespace faultline::cli
