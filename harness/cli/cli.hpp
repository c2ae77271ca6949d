// What the subcommands of build/bin/faultline share: the parsed options,
// the exit statuses, the stop signals, and the entry each subcommand file
// puts in main.cpp's table (git's builtin/ shape: main.cpp dispatches, one
// file per subcommand with its usage text beside its code).
#pragma once

#include <csignal>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "faultline/campaign/explore.hpp"
#include "faultline/campaign/kernel_sweep.hpp"
#include "faultline/campaign/junit.hpp"
#include "faultline/campaign/shard.hpp"
#include "faultline/campaign/sweep.hpp"
#include "faultline/machine/machine.hpp"
#include "faultline/program/closure.hpp"

namespace faultline::cli {

constexpr int kUsageError = 2;
constexpr int kHarnessError = 125;

// Bad usage: the one line that says what is wrong.
struct UsageError {
    std::string message;
};

// Every subcommand's options, filled in by parse_options (options.cpp).
struct Options {
    std::string command;
    bool help = false;  // --help or -h before any "--": the rest is not looked at
    std::string conformance_target;
    bool json = false;
    std::string binary;
    std::vector<std::string> libraries;
    std::vector<std::string> files;  // --file HOST[:GUEST]
    int require_coverage = 0;  // percent of cells reached
    RunAs user = RunAs::nobody;
    std::vector<std::string> program;  // after "--"
    std::vector<std::string> events = SweepConfig().events;
    bool events_given = false;
    // sweep --kernel-function: the kernel sweep of these functions.
    std::vector<std::string> kernel_functions;
    std::string vmlinux;  // default: --kernel
    bool every_address_space = false;
    std::string json_file, html_file;
    std::string junit_file;  // sweep (rseq and kernel), conformance rseq and pks
    uint32_t hit = SweepConfig().hit;
    int signo = SweepConfig().signo;
    int budget_ms = -1;  // not given
    std::string pk_trace_file;
    std::string pk_kinds = "all";
    std::string repro_dir;
    std::string repro_file;  // replay's FILE
    std::vector<std::string> shard_reports;  // merge's SHARD.json...
    bool force = false;
    int gdb_port = 0;  // replay --gdb
    MachineConfig config = MachineConfig::defaults();
    Shard shard;
    ExploreConfig explore;
    bool explore_depth_given = false, explore_runs_given = false, explore_seed_given = false;
};

// argv[1] is a subcommand of the table; the rest are its options.
Options parse_options(int argc, char** argv);

// The "options:" part of the usage: the options parse_options knows.
std::string options_usage();

// One subcommand: its lines of the usage (the first without the leading
// "usage: "), what the usage says of it after the options (or nullptr),
// and what it does, returning the exit status.
struct Command {
    const char* name;
    std::string (*synopsis)();
    std::string (*notes)();
    int (*run)(const Options&);
};

extern const Command boot_command;
extern const Command run_command;
extern const Command sweep_command;
extern const Command explore_command;
extern const Command replay_command;
extern const Command conformance_command;
extern const Command merge_command;

// What sweep and merge print and write of an rseq sweep's result (the
// table, --json, --html, --junit, the kernel reports); returns the exit
// status: 0 when every reached cell passed, no finding, no kernel report,
// and at least --require-coverage of the cells reached.
int report_sweep(const Options& o, const SweepResult& result);
// The same for a kernel sweep's result (sweep --kernel-function, or merge
// of its shards): the table, reproducers, --json, --html, --junit.
int report_kernel_sweep(const Options& o, const KernelSweepResult& result);
// The same for an exploration: 0 when no run broke the program's check and
// no kernel report.
int report_explore(const Options& o, const ExploreResult& result);

// The signal that asked the CLI to stop, 0 while none has.
extern volatile sig_atomic_t stop_signal;

// Thrown out of a machine's wait once a stop signal came.
struct Stopped {
    int signo;
};

void catch_stop_signals();

// The machine's waits end at a stop signal; unwinding then shuts it down.
void stop_on_signal(Machine& machine);

// A bug the guest kernel found in itself makes every verdict of the run
// suspect: each report line goes to stderr. Returns how many there were.
size_t tell_kernel_reports(const std::vector<std::string>& reports);

// machine.boot(), and a line on stderr when the boot cache could not be
// used or filled.
BootInfo boot_machine(Machine& machine);

void describe_boot(std::ostream& out, const BootInfo& info);

// --junit: the cases as JUnit XML in o.junit_file, when given.
void write_junit(const Options& o, const std::string& suite, const std::vector<JunitCase>& cases);

// Where --binary puts a host program in the guest.
std::string uploaded_path(const std::string& binary);

// What --binary, --library and --file put in the guest, found and checked
// before anything boots (program/closure.hpp): the program with its
// library closure, the given libraries, the data files.
struct GuestFiles {
    std::vector<Upload> uploads;
    std::vector<std::string> library_guest_paths;  // of Options::libraries, in order
    // uploads but the program and the given libraries (a campaign's own files).
    std::vector<Upload> others(const std::string& program) const;
};
GuestFiles guest_files(const Options& o);
void put_guest_files(Machine& machine, const std::vector<Upload>& uploads);

// A report file (--json, --html), whole or with an error naming it.
void write_report(const std::string& path, const std::string& text);

// The options every campaign takes (the rseq and the kernel sweep, explore).
template <typename Config>
void take_trial_options(const Options& o, Config& config) {
    config.events = o.events;
    config.shard = o.shard;
    if (o.budget_ms >= 0) {
        config.budget_ms = uint32_t(o.budget_ms);
    }
}

// The options sweep and explore share, into either's config.
template <typename CampaignConfig>
void take_campaign_options(const Options& o, CampaignConfig& config) {
    take_trial_options(o, config);
    config.signo = o.signo;
    config.repro_dir = o.repro_dir;
}

// The built-in sweep target: the rseq counter with one pinned thread per vCPU.
constexpr const char* kBuiltinProgram = "/bin/rseq-counter";

}  // namespace faultline::cli
