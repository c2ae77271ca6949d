// faultline: command-line front end of the harness.
//
//   faultline boot [--json] [OPTIONS]
//   faultline run [--json] [--root] [--binary HOST_FILE] [OPTIONS] -- PROGRAM [ARGS...]
//   faultline run [--json] [--root] --binary HOST_FILE [OPTIONS] [-- ARGS...]
//   (run also takes --pk-trace FILE [--pk-kinds KIND,...])
//   faultline conformance rseq [OPTIONS]
//   faultline replay FILE [--json] [--force] [--gdb PORT] [OPTIONS]
//   faultline conformance pk [--json FILE] [OPTIONS]
//   faultline sweep [--binary PATH] [--library LIB.so]... [--events EVENT,...]
//                   [--json FILE] [--html FILE] [--hit N] [--signal N] [--require-coverage PCT]
//                   [--shard I/N] [OPTIONS] [-- ARGS...]
//   faultline explore --binary PATH --depth N --runs R --seed S [--events EVENT,...]
//                     [--max-hit H] [--signal N] [--shard I/N] [--json FILE] [--repro-dir DIR]
//                     [OPTIONS] [-- ARGS...]
//
// Exit status: boot 0; run the program's own status (128+N when signal N
// killed it); explore 0 when no run broke the program's check, 1 when one
// did (each finding listed); sweep 0 when every cell the workload reached matches the rseq
// rule, no set of trials breaks the program only together, at least PCT% were
// reached, and the guest kernel reported no bug in
// itself, 1 otherwise (run and sweep print each
// kernel report line on stderr); replay 1 when the reproducer's failure
// repeats, 0 when it does not; 2 for bad usage or bad input; 125 when the
// harness failed (one line naming the cause on stderr, evidence below it). SIGINT, SIGTERM or SIGHUP
// end QEMU and remove the run directory, then end the CLI by that signal.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "faultline/errors.hpp"
#include "faultline/explore.hpp"
#include "faultline/machine.hpp"
#include "faultline/replay.hpp"
#include "faultline/reproducer.hpp"
#include "faultline/pk_conformance.hpp"
#include "faultline/sweep.hpp"
#include "faultline/sweep_report.hpp"
#include "faultline/trace.hpp"

namespace {

using faultline::MachineConfig;

constexpr int kUsageError = 2;
constexpr int kHarnessError = 125;

// The protection-key event kinds, comma-separated: all of them, or those
// "all" (the default) stands for, or those recorded only when named.
enum class PkKinds { every, in_all, named_only };
std::string pk_kind_list(PkKinds which) {
    std::string list;
    for (const auto& k : faultline::pk_event_kinds()) {
        if (which == PkKinds::every || k.in_all == (which == PkKinds::in_all)) {
            list += (list.empty() ? "" : ",") + std::string(k.name);
        }
    }
    return list;
}

std::string usage() {
    return "usage: faultline boot [--json] [OPTIONS]\n"
           "       faultline run [--json] [--root] [--binary HOST_FILE] [OPTIONS] -- [PROGRAM] [ARGS...]\n"
           "       faultline sweep [--binary PATH] [--library LIB.so]... [--events " +
           faultline::swept_event_list() + "]\n"
           "                       [--json FILE] [--html FILE] [--hit N] [--signal N]\n"
           "                       [--require-coverage PCT] [--repro-dir DIR] [--shard I/N]\n"
           "                       [OPTIONS] [-- ARGS...]\n"
           "       faultline explore --binary PATH --depth N --runs R --seed S [--events ...]\n"
           "                       [--max-hit H] [--signal N] [--shard I/N] [--json FILE]\n"
           "                       [--repro-dir DIR] [OPTIONS] [-- ARGS...]\n"
           "         fires N events per run (N >= 1) at seeded random instructions of the\n"
           "         critical sections and their abort handlers, hit counts 1..H (3), for R\n"
           "         runs (R >= 1); each failing run is shrunk to a minimal schedule\n"
           "       faultline replay FILE [--json] [--force] [--gdb PORT]\n"
           "                       [--qemu/--kernel/--initrd/--firmware PATH]\n"
           "       faultline conformance rseq [OPTIONS]   (e.g. --kernel a kernel under test)\n"
           "       faultline conformance pk [--json FILE] [OPTIONS]   (QEMU's page-permission and\n"
           "                       protection-key check against models/ PkCheck, every case)\n"
           "options:\n"
           "  --qemu PATH --kernel PATH --initrd PATH --firmware DIR   (default: the built tree)\n"
           "  --cpus N (2)  --memory MIB (256)  --timeout SECONDS (120, host time)\n"
           "  --budget MS   guest time a program run may take before it is killed\n"
           "                (run: no limit; sweep, explore: 5000, and a run with events\n"
           "                at most twice the run without plus 20 ms, 20 per\n"
           "                page_fault_blocking, 1 per other event)\n"
           "  --kernel-arg ARG   append to the guest kernel command line (repeatable)\n"
           "  --root        run the program as root (default: nobody, uid 65534)\n"
           "  --pk-trace FILE   run: write the program's protection-key events (its address\n"
           "                space only), one JSON object per line, in order\n"
           "  --pk-kinds KIND,...   run: which of " + pk_kind_list(PkKinds::every) + "\n"
           "                (default all: " + pk_kind_list(PkKinds::in_all) + ";\n"
           "                " + pk_kind_list(PkKinds::named_only) + " only when named)\n"
           "  --precise-xinuse   run, sweep: the vCPUs report an XSAVE component not in use\n"
           "                when it is in its initial configuration (PKRU 0, XMM/YMM 0), as\n"
           "                some CPUs do, instead of every component in use\n"
           "  --repro-dir DIR   sweep, explore: write a reproducer (JSON, the program copied\n"
           "                beside it) for each finding into DIR\n"
           "  --shard I/N   sweep: the I-th of N near-equal parts of the instruction rows;\n"
           "                explore: of the runs (1 <= I <= N); the N shards cover it all once\n"
           "replay: boots the machine the reproducer FILE names (its cpus, memory and kernel\n"
           "  arguments; QEMU, kernel and initramfs from the options, which must have the\n"
           "  recorded sha256 unless --force), runs its schedule and compares: exit 1 when\n"
           "  the failure repeats, 0 when it does not (what differs is printed), 2 for a bad\n"
           "  file (the field is named), a missing program copy or another identity.\n"
           "  --json   print {reproduced, identical, firings: [{icount, vcpu, rip, aborted,\n"
           "           status}], outcome: {exit_code, signaled, timed_out}, differences}\n"
           "  --force  replay even when QEMU, kernel or initramfs differ from the recording\n"
           "  --gdb PORT   then run it once more for gdb: QEMU's gdbstub listens on\n"
           "           localhost:PORT with the program held at its entry; FILE.gdb (written\n"
           "           beside FILE) attaches gdb, loads the program's symbols and stops before\n"
           "           each schedule entry's firing in turn, in its process at its hit count\n"
           "           (gdb -x FILE.gdb; continue goes to the next); at the end it says whether\n"
           "           the run under gdb was the recorded one\n";
}

struct UsageError {
    std::string message;
};

// What `faultline conformance TARGET` checks.
const std::vector<std::string> kConformanceTargets{"rseq", "pk"};

struct Options {
    std::string command;
    std::string conformance_target;
    bool json = false;
    std::string binary;
    std::vector<std::string> libraries;
    int require_coverage = 0;  // percent of cells reached
    faultline::RunAs user = faultline::RunAs::nobody;
    std::vector<std::string> program;  // after "--"
    std::vector<std::string> events = faultline::SweepConfig().events;
    std::string json_file, html_file;
    uint32_t hit = faultline::SweepConfig().hit;
    int signo = faultline::SweepConfig().signo;
    int budget_ms = -1;  // not given
    std::string pk_trace_file;
    std::string pk_kinds = "all";
    std::string repro_dir;
    std::string repro_file;  // replay's FILE
    bool force = false;
    int gdb_port = 0;  // replay --gdb
    MachineConfig config = MachineConfig::defaults();
    faultline::Shard shard;
    faultline::ExploreConfig explore;
    bool explore_depth_given = false, explore_runs_given = false, explore_seed_given = false;
};

int parse_int(const std::string& flag, const std::string& value) {
    try {
        size_t used;
        int n = std::stoi(value, &used);
        if (used == value.size()) {
            return n;
        }
    } catch (const std::exception&) {
    }
    throw UsageError{flag + " expects a number, not '" + value + "'"};
}

// explore's own options; false for any other argument.
template <typename Value>
bool parse_explore_option(Options& o, const std::string& arg, Value&& value) {
    if (o.command != "explore") {
        return false;
    }
    auto at_least_1 = [&](const std::string& what) {
        int n = parse_int(arg, value());
        if (n < 1) {
            throw UsageError{arg + " must be at least 1 (" + what + ")"};
        }
        return uint32_t(n);
    };
    if (arg == "--depth") {
        o.explore.depth = at_least_1("events per run");
        o.explore_depth_given = true;
    } else if (arg == "--runs") {
        o.explore.runs = at_least_1("program runs");
        o.explore_runs_given = true;
    } else if (arg == "--max-hit") {
        o.explore.max_hit = at_least_1("hit counts start at 1");
    } else if (arg == "--seed") {
        std::string text = value();
        if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != text.npos) {
            throw UsageError{"--seed expects a number, not '" + text + "'"};
        }
        o.explore.seed = std::stoull(text);
        o.explore_seed_given = true;
    } else {
        return false;
    }
    return true;
}

// An exploration is named by its program, depth, runs and seed: none is left
// to a default that could change under a finding someone wrote down.
void check_explore_options(const Options& o) {
    if (o.binary.empty()) {
        throw UsageError{"explore needs --binary PATH"};
    }
    for (const auto& [given, flag] : {std::pair{o.explore_depth_given, "--depth"},
                                      std::pair{o.explore_runs_given, "--runs"},
                                      std::pair{o.explore_seed_given, "--seed"}}) {
        if (!given) {
            throw UsageError{std::string("explore needs ") + flag};
        }
    }
}

Options parse(int argc, char** argv) {
    if (argc < 2) {
        throw UsageError{"no command given"};
    }
    Options o;
    o.command = argv[1];
    if (o.command == "--help" || o.command == "-h" || o.command == "help") {
        o.command = "help";
        return o;
    }
    if (o.command != "boot" && o.command != "run" && o.command != "sweep" &&
        o.command != "conformance" && o.command != "explore" && o.command != "replay") {
        throw UsageError{"unknown command '" + o.command + "'"};
    }
    int first = 2;
    if (o.command == "conformance") {
        o.conformance_target = argc < 3 ? "" : argv[2];
        if (std::find(kConformanceTargets.begin(), kConformanceTargets.end(),
                      o.conformance_target) == kConformanceTargets.end()) {
            throw UsageError{(argc < 3 ? std::string("conformance needs a target")
                                       : "unknown conformance target '" + o.conformance_target +
                                             "'") +
                             " (known: rseq, pk)"};
        }
        first = 3;
    }
    for (int i = first; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                throw UsageError{arg + " expects a value"};
            }
            return argv[++i];
        };
        if (arg == "--" && o.command != "replay") {
            o.program.assign(argv + i + 1, argv + argc);
            break;
        } else if (parse_explore_option(o, arg, value)) {
        } else if (arg == "--shard" && (o.command == "sweep" || o.command == "explore")) {
            try {
                o.shard = faultline::parse_shard(value());
            } catch (const faultline::ConfigError& e) {
                throw UsageError{e.what()};
            }
        } else if (o.command == "replay" && o.repro_file.empty() && !arg.starts_with("-")) {
            o.repro_file = arg;
        } else if (arg == "--force" && o.command == "replay") {
            o.force = true;
        } else if (arg == "--gdb" && o.command == "replay") {
            o.gdb_port = parse_int(arg, value());
            if (o.gdb_port < 1 || o.gdb_port > 65535) {
                throw UsageError{"--gdb takes a TCP port, 1 to 65535"};
            }
        } else if (arg == "--repro-dir" && (o.command == "sweep" || o.command == "explore")) {
            o.repro_dir = value();
        } else if (o.command == "replay" &&
                   (arg == "--cpus" || arg == "--memory" || arg == "--kernel-arg")) {
            throw UsageError{"replay takes " + arg + " from the reproducer, not the command line"};
        } else if (arg == "--json" && (o.command == "sweep" || o.command == "explore" ||
                                       o.conformance_target == "pk")) {
            o.json_file = value();
        } else if (arg == "--json") {
            o.json = true;
        } else if (arg == "--html" && o.command == "sweep") {
            o.html_file = value();
        } else if (arg == "--hit" && o.command == "sweep") {
            int hit = parse_int(arg, value());
            if (hit < 1) {
                throw UsageError{"--hit counts executions from 1"};
            }
            o.hit = uint32_t(hit);
        } else if (arg == "--events" && (o.command == "sweep" || o.command == "explore")) {
            o.events.clear();
            std::stringstream list(value());
            for (std::string e; std::getline(list, e, ',');) {
                o.events.push_back(e);
            }
        } else if (arg == "--budget" && o.command != "boot") {
            o.budget_ms = parse_int(arg, value());
            if (o.budget_ms < 0) {
                throw UsageError{"--budget is milliseconds of guest time, 0 for none"};
            }
        } else if (arg == "--root" && o.command == "run") {
            o.user = faultline::RunAs::root;
        } else if (arg == "--pk-trace" && o.command == "run") {
            o.pk_trace_file = value();
        } else if (arg == "--pk-kinds" && o.command == "run") {
            o.pk_kinds = value();
        } else if (arg == "--binary" && o.command != "boot") {
            o.binary = value();
        } else if (arg == "--signal" && (o.command == "sweep" || o.command == "explore")) {
            o.signo = parse_int(arg, value());
            if (o.signo < 1 || o.signo > 64) {
                throw UsageError{"--signal takes a signal number, 1 to 64"};
            }
        } else if (arg == "--library" && o.command == "sweep") {
            o.libraries.push_back(value());
        } else if (arg == "--require-coverage" && o.command == "sweep") {
            o.require_coverage = parse_int(arg, value());
            if (o.require_coverage < 0 || o.require_coverage > 100) {
                throw UsageError{"--require-coverage is a percentage, 0 to 100"};
            }
        } else if (arg == "--qemu") {
            o.config.qemu = value();
        } else if (arg == "--kernel") {
            o.config.kernel = value();
        } else if (arg == "--initrd") {
            o.config.initrd = value();
        } else if (arg == "--firmware") {
            o.config.firmware_dir = value();
        } else if (arg == "--cpus") {
            o.config.cpus = parse_int(arg, value());
        } else if (arg == "--memory") {
            o.config.memory_mib = parse_int(arg, value());
        } else if (arg == "--timeout") {
            o.config.command_timeout_s = parse_int(arg, value());
        } else if (arg == "--kernel-arg") {
            o.config.kernel_args.push_back(value());
        } else if (arg == "--precise-xinuse" && (o.command == "run" || o.command == "sweep")) {
            o.config.precise_xinuse = true;
        } else {
            throw UsageError{"unknown option '" + arg + "'"};
        }
    }
    if (o.command == "explore") {
        check_explore_options(o);
    }
    if (o.command == "replay" && o.repro_file.empty()) {
        throw UsageError{"replay needs a reproducer FILE"};
    }
    if (o.command == "run" && o.binary.empty() && o.program.empty()) {
        throw UsageError{"run needs a PROGRAM after -- or a --binary"};
    }
    // Found before a boot is spent on it (sweep's plan checks its own binary).
    if (o.command == "run" && !o.binary.empty() && !std::filesystem::is_regular_file(o.binary)) {
        throw UsageError{"--binary " + o.binary + ": no such file"};
    }
    if (o.pk_kinds != "all" && o.pk_trace_file.empty()) {
        throw UsageError{"--pk-kinds without --pk-trace"};
    }
    try {
        faultline::pk_event_kinds_from_list(o.pk_kinds);
    } catch (const faultline::ConfigError& e) {
        throw UsageError{"--pk-kinds: " + std::string(e.what())};
    }
    // A report that cannot be written is found before the boot, not after
    // the whole run.
    for (const auto& [flag, file] : {std::pair{"--json", o.json_file}, {"--html", o.html_file}}) {
        std::filesystem::path parent = std::filesystem::path(file).parent_path();
        if (!file.empty() && !parent.empty() && !std::filesystem::is_directory(parent)) {
            throw UsageError{std::string(flag) + " " + file + ": no directory " + parent.string()};
        }
    }
    return o;
}

// A bug the guest kernel found in itself makes every verdict of the run
// suspect: each report line goes to stderr. Returns how many there were.
size_t tell_kernel_reports(const std::vector<std::string>& reports) {
    for (const auto& line : reports) {
        std::cerr << "faultline: kernel report: " << line << "\n";
    }
    return reports.size();
}

void describe_boot(std::ostream& out, const faultline::BootInfo& info) {
    out << "faultline: guest ready in " << info.ready_s << " s at instruction "
        << info.icount_at_ready << ": Linux " << info.kernel_release << ", " << info.cpus
        << " vCPUs, QEMU " << info.qemu_version << "\n";
}

// The signal that asked the CLI to stop, 0 while none has.
volatile sig_atomic_t stop_signal = 0;

extern "C" void note_stop_signal(int signo) { stop_signal = signo; }

struct Stopped {
    int signo;
};

void catch_stop_signals() {
    struct sigaction action {};
    action.sa_handler = note_stop_signal;
    sigemptyset(&action.sa_mask);
    for (int signo : {SIGINT, SIGTERM, SIGHUP}) {
        sigaction(signo, &action, nullptr);
    }
}

// The machine's waits end at a stop signal; unwinding then shuts it down.
void stop_on_signal(faultline::Machine& machine) {
    machine.set_interrupt_check([] {
        if (stop_signal) {
            throw Stopped{stop_signal};
        }
    });
}

int boot(const Options& o) {
    faultline::Machine machine(o.config);
    stop_on_signal(machine);
    faultline::BootInfo info = machine.boot();
    if (o.json) {
        std::cout << nlohmann::json{{"ready_s", info.ready_s},
                                    {"icount_at_ready", info.icount_at_ready},
                                    {"cpus", info.cpus},
                                    {"kernel_release", info.kernel_release},
                                    {"qemu_version", info.qemu_version}}
                         .dump()
                  << "\n";
    } else {
        describe_boot(std::cout, info);
    }
    return 0;
}

// The --pk-trace file, written whole or not at all: lines go to a temporary
// file beside it, made before anything boots (so an unwritable place is found
// first), renamed over it at the end, removed on any failure.
class PkTraceFile {
public:
    explicit PkTraceFile(const std::string& path) : path_(path), temp_(path + ".XXXXXX") {
        int fd = mkstemp(temp_.data());
        if (fd < 0) {
            throw UsageError{"--pk-trace " + path + ": cannot write there: " + strerror(errno)};
        }
        close(fd);
    }
    ~PkTraceFile() {
        if (!committed_) {
            unlink(temp_.c_str());
        }
    }
    PkTraceFile(const PkTraceFile&) = delete;
    PkTraceFile& operator=(const PkTraceFile&) = delete;

    void commit(const std::vector<faultline::PkEvent>& events) {
        std::ofstream out(temp_, std::ios::trunc);
        for (const auto& e : events) {
            out << e.json().dump() << "\n";
        }
        out.close();
        if (!out || rename(temp_.c_str(), path_.c_str()) != 0) {
            throw faultline::Error("cannot write " + path_ + ": " + strerror(errno));
        }
        committed_ = true;
    }

private:
    std::string path_;
    std::string temp_;
    bool committed_ = false;
};

// Where --binary puts a host program in the guest.
std::string uploaded_path(const std::string& binary) {
    return "/tmp/" + std::filesystem::path(binary).filename().string();
}

// A report file (--json, --html), whole or with an error naming it.
void write_report(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    if (!out) {
        throw faultline::Error("cannot write " + path);
    }
}

int run(const Options& o) {
    std::unique_ptr<PkTraceFile> pk_trace;
    if (!o.pk_trace_file.empty()) {
        pk_trace = std::make_unique<PkTraceFile>(o.pk_trace_file);
    }
    faultline::Machine machine(o.config);
    stop_on_signal(machine);
    faultline::BootInfo info = machine.boot();
    std::string program;
    std::vector<std::string> args = o.program;
    if (!o.binary.empty()) {
        program = uploaded_path(o.binary);
        machine.put_file(o.binary, program);
    } else {
        program = args.front();
        args.erase(args.begin());
    }
    if (!o.json) {
        describe_boot(std::cerr, info);
    }
    uint32_t budget_ms = uint32_t(std::max(o.budget_ms, 0));
    faultline::RunResult r;
    if (pk_trace) {
        // Held before its first instruction, so its address space is known
        // before it runs: the trace is the program's events and nothing else's.
        faultline::Process process = machine.spawn(program, args, budget_ms, o.user);
        machine.trace_pk(faultline::pk_event_kinds_from_list(o.pk_kinds), process.cr3);
        r = machine.run_spawned();
        pk_trace->commit(machine.pk_events());
    } else {
        r = machine.run(program, args, budget_ms, o.user);
    }
    if (o.json) {
        // Guest output is bytes; invalid UTF-8 becomes U+FFFD rather than an exception.
        auto text = [](const nlohmann::json& value) {
            return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        };
        std::cout << "{\"program\":" << text(program) << ",\"exit_code\":" << r.exit_code
                  << ",\"signaled\":" << (r.signaled ? "true" : "false")
                  << ",\"timed_out\":" << (r.timed_out ? "true" : "false")
                  << ",\"stdout\":" << text(r.stdout_text) << ",\"stderr\":" << text(r.stderr_text)
                  << ",\"icount\":" << r.icount << ",\"icount_at_ready\":" << info.icount_at_ready
                  << ",\"ready_s\":" << info.ready_s
                  << ",\"kernel_reports\":" << text(machine.kernel_reports())
                  << "}\n";
    } else {
        std::cout << r.stdout_text;
        std::cerr << r.stderr_text;
        std::cerr << "faultline: " << program
                  << (r.timed_out  ? " killed at the end of its budget, signal "
                      : r.signaled ? " killed by signal "
                                   : " exited ")
                  << r.exit_code << " after " << r.icount << " guest instructions\n";
    }
    tell_kernel_reports(machine.kernel_reports());
    return r.signaled ? 128 + r.exit_code : r.exit_code;
}

}  // namespace

// The built-in sweep target: the rseq counter with one pinned thread per vCPU.
constexpr const char* kBuiltinProgram = "/bin/rseq-counter";

// What a kernel under test must pass for rseq, on one boot: the sweep of the
// built-in program and of the upstream selftests' own sections, the rseq
// ABI checks, and the upstream selftests themselves. A table, one line a
// check; 0 only when every check passed and the kernel reported no bug.
int conformance(const Options& o) {
    struct Check {
        std::string name;
        bool passed;
        std::string detail;
    };
    std::vector<Check> checks;
    faultline::Machine machine(o.config);
    stop_on_signal(machine);
    machine.boot();
    const std::string programs = faultline::build_dir() + "/linux/initramfs/";
    auto sweep_check = [&](const std::string& program, const std::string& guest,
                           const std::vector<std::string>& args,
                           const std::vector<std::string>& events) {
        faultline::SweepConfig config;
        config.host_binary = programs + program;
        config.guest_program = guest;
        config.args = args;
        config.events = events;
        config.files_put = false;
        faultline::SweepResult result = faultline::run_sweep(machine, faultline::plan_sweep(config));
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
        faultline::RunResult r = machine.run(program, args, 60000);
        checks.push_back({name, !r.signaled && !r.timed_out && r.exit_code == 0,
                          r.timed_out ? "out of its budget"
                          : r.signaled ? "killed by signal " + std::to_string(r.exit_code)
                                       : "exited " + std::to_string(r.exit_code)});
    };
    const std::vector<std::string> selftest_events{"preempt", "signal", "migrate",
                                                   "page_fault_blocking"};
    sweep_check("rseq-counter", kBuiltinProgram, {"1", "1000"}, faultline::swept_event_names());
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
    size_t reports = tell_kernel_reports(machine.kernel_reports());
    std::printf("rseq conformance: %zu of %zu checks passed\n", checks.size() - failed,
                checks.size());
    return failed == 0 && reports == 0 ? 0 : 1;
}

// QEMU's access-rights and protection-key check against the model, every
// case the guest can set up (faultline/pk_conformance.hpp): a table, the
// JSON on request; 0 only with no mismatch and no kernel report.
int conformance_pk(const Options& o) {
    auto start = std::chrono::steady_clock::now();
    faultline::Machine machine(o.config);
    stop_on_signal(machine);
    machine.boot();
    faultline::PkConformance result = faultline::run_pk_conformance(machine);
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fputs(faultline::pk_conformance_table(result).c_str(), stdout);
    if (!o.json_file.empty()) {
        write_report(o.json_file, faultline::pk_conformance_json(result).dump(1) + "\n");
    }
    size_t reports = tell_kernel_reports(machine.kernel_reports());
    return result.mismatches() == 0 && reports == 0 ? 0 : 1;
}

int sweep(const Options& o) {
    faultline::SweepConfig config;
    config.events = o.events;
    config.hit = o.hit;
    config.signo = o.signo;
    config.shard = o.shard;
    if (o.budget_ms >= 0) {
        config.budget_ms = uint32_t(o.budget_ms);
    }
    if (o.binary.empty()) {
        config.host_binary = faultline::build_dir() + "/linux/initramfs/rseq-counter";
        config.guest_program = kBuiltinProgram;
        config.args = o.program.empty() ? std::vector<std::string>{"1", "1000"} : o.program;
        config.files_put = false;
    } else {
        config.host_binary = o.binary;
        config.guest_program = uploaded_path(o.binary);
        config.args = o.program;
    }
    // Where the dynamic loader looks first: the program finds them there.
    for (const auto& library : o.libraries) {
        config.libraries.push_back(
            {library, "/lib/x86_64-linux-gnu/" + std::filesystem::path(library).filename().string()});
    }
    config.repro_dir = o.repro_dir;
    // Bad input is found before anything boots.
    faultline::SweepPlan plan = faultline::plan_sweep(config);
    faultline::Machine machine(o.config);
    stop_on_signal(machine);
    machine.boot();
    if (!o.binary.empty()) {
        machine.put_file(o.binary, config.guest_program);
    }
    for (const auto& library : config.libraries) {
        machine.put_file(library.host_path, library.guest_path, 0644);
    }
    faultline::SweepResult result = faultline::run_sweep(machine, plan);

    std::fputs(faultline::sweep_table(result, config.events).c_str(), stdout);
    if (!o.json_file.empty()) {
        write_report(o.json_file, faultline::sweep_json(result));
    }
    if (!o.html_file.empty()) {
        write_report(o.html_file, faultline::sweep_html(result, "faultline sweep: " + config.guest_program));
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

int explore(const Options& o) {
    faultline::ExploreConfig config = o.explore;
    config.host_binary = o.binary;
    config.guest_program = uploaded_path(o.binary);
    config.args = o.program;
    config.events = o.events;
    config.signo = o.signo;
    config.shard = o.shard;
    config.repro_dir = o.repro_dir;
    if (o.budget_ms >= 0) {
        config.budget_ms = uint32_t(o.budget_ms);
    }
    // Bad input is found before anything boots.
    faultline::ExplorePlan plan = faultline::plan_explore(config);
    faultline::Machine machine(o.config);
    stop_on_signal(machine);
    machine.boot();
    machine.put_file(o.binary, config.guest_program);
    faultline::ExploreResult result = faultline::run_explore(machine, plan);
    std::fputs(faultline::explore_table(result).c_str(), stdout);
    if (!o.json_file.empty()) {
        write_report(o.json_file, faultline::explore_json(result));
    }
    size_t reports = tell_kernel_reports(machine.kernel_reports());
    return result.findings.empty() && reports == 0 ? 0 : 1;
}

nlohmann::json firing_json(const faultline::ReproFiring& f) {
    return {{"icount", f.icount},
            {"vcpu", f.vcpu},
            {"rip", f.rip},
            {"aborted", f.aborted ? nlohmann::json(*f.aborted) : nlohmann::json()},
            {"status", f.status}};
}

// "schedule entry 2 of 3: migrate before 0x401395, hit 1"
std::string entry_title(const faultline::ScheduledRun& held, size_t k) {
    const faultline::ScheduleEntry& e = held.armed[k];
    std::ostringstream title;
    title << "schedule entry " << k + 1 << " of " << held.armed.size() << ": " << e.event.name()
          << " before " << std::hex << std::showbase << e.trigger.vaddr << std::dec << ", hit "
          << e.trigger.hit;
    return title.str();
}

// A gdb script that stops before each firing of the armed schedule, in
// order, by keeping the count the engine keeps (qemu-patches/0008): entry
// k counts the arrivals at its address in the process (any thread) from
// the firing of entry k - 1 on, or from the end of its watch: the first
// arrival of that thread at its address or its watch address, counted for
// no entry. One breakpoint per address, its condition counting in
// convenience variables; a stop's commands move on to the next entry and
// enable only the breakpoints that it and the watch need: an arrival
// anywhere else costs no round trip to gdb.
std::string gdb_schedule_script(const faultline::Reproducer& r, const faultline::ScheduledRun& held,
                                int port) {
    const std::vector<faultline::ScheduleEntry>& armed = held.armed;
    std::vector<uint64_t> addresses;  // breakpoint b + 1 is at addresses[b]
    auto breakpoint_at = [&](uint64_t address) {
        auto at = std::find(addresses.begin(), addresses.end(), address);
        if (at == addresses.end()) {
            addresses.push_back(address);
            return addresses.size();
        }
        return size_t(at - addresses.begin()) + 1;
    };
    for (const auto& e : armed) {
        breakpoint_at(e.trigger.vaddr);
        if (e.watch) {
            breakpoint_at(e.watch);
        }
    }
    // What entry k, once fired, leaves to count: the next entry's arrivals
    // and, while its watch goes on, its thread's return.
    auto enabled_after = [&](size_t k) {
        std::ostringstream out;
        out << "disable 1-" << addresses.size() << "\n";
        std::vector<size_t> wanted;
        if (k + 1 < armed.size()) {
            wanted.push_back(breakpoint_at(armed[k + 1].trigger.vaddr));
            if (armed[k].watch) {
                wanted.push_back(breakpoint_at(armed[k].trigger.vaddr));
                wanted.push_back(breakpoint_at(armed[k].watch));
            }
        }
        if (!wanted.empty()) {
            out << "enable";
            for (size_t b : wanted) {
                out << " " << b;
            }
            out << "\n";
        }
        return out.str();
    };

    std::ostringstream script;
    script << "set pagination off\n"
           << "target remote localhost:" << port << "\n";
    for (size_t k = 0; k < r.files.size(); ++k) {
        script << "add-symbol-file " << r.files[k].host_path << " -o " << std::hex << std::showbase
               << held.biases[k] << std::dec << "\n";
    }
    // gdb goes on from its breakpoint at a trigger address by a step; with
    // interrupts let in there, the firing's NMI comes before the
    // instruction, as it does without gdb.
    script << "maint packet Qqemu.sstep=0x1\n"
           << "set $faultline_entry = 0\n"
           << "set $faultline_hits = 0\n"
           << "set $faultline_watching = 0\n"
           << "set $faultline_thread = 0\n";
    for (size_t b = 0; b < addresses.size(); ++b) {
        uint64_t address = addresses[b];
        std::ostringstream counted, watch_ends;
        for (size_t k = 0; k < armed.size(); ++k) {
            if (armed[k].trigger.vaddr == address) {
                counted << (counted.tellp() ? " || " : "") << "($faultline_entry == " << k
                        << " && ++$faultline_hits == " << armed[k].trigger.hit << ")";
            }
            if (armed[k].watch && (armed[k].trigger.vaddr == address || armed[k].watch == address)) {
                watch_ends << (watch_ends.tellp() ? " || " : "") << "$faultline_entry == " << k + 1;
            }
        }
        // While a watch goes on nothing is counted, and the arrival that
        // ends it (never a stop) is counted for no entry.
        std::string ends_watch = watch_ends.tellp()
            ? "(" + watch_ends.str() + ") && $fs_base == $faultline_thread && ($faultline_watching = 0)"
            : "";
        std::string condition = !ends_watch.empty() && counted.tellp()
            ? "($faultline_watching ? " + ends_watch + " : " + counted.str() + ")"
            : !ends_watch.empty() ? "$faultline_watching && " + ends_watch
                                  : "!$faultline_watching && (" + counted.str() + ")";
        script << std::hex << std::showbase << "break *" << address
               << " if ((unsigned long)$cr3 & 0xfffffffffffff000) == " << held.process.cr3
               << std::dec << " && " << condition << "\n";
        script << "commands\n";
        for (size_t k = 0; k < armed.size(); ++k) {
            if (armed[k].trigger.vaddr != address) {
                continue;
            }
            script << "if $faultline_entry == " << k << "\n"
                   << "echo faultline: " << entry_title(held, k) << "\\n\n"
                   << (k + 1 < armed.size() ? "echo faultline: continue goes to the next one\\n\n"
                                            : "echo faultline: the last one; continue or detach "
                                              "lets the program run to its end\\n\n")
                   << enabled_after(k) << "set $faultline_watching = " << (armed[k].watch != 0)
                   << "\n"
                   << "end\n";
        }
        script << "set $faultline_thread = $fs_base\n"
               << "set $faultline_hits = 0\n"
               << "set $faultline_entry = $faultline_entry + 1\n"
               << "end\n";
    }
    script << "disable 1-" << addresses.size() << "\n"
           << "enable " << breakpoint_at(armed.front().trigger.vaddr) << "\n"
           << "continue\n";
    return script.str();
}

// Runs the reproducer's schedule once more with the vCPUs handed to gdb:
// QEMU's gdbstub listens, the program is held at its entry with the
// schedule armed, and a gdb script beside the file attaches, loads the
// swept files' symbols where they are loaded and stops before each
// entry's firing in turn. The guest goes on when gdb continues; returns
// when the program ended, telling whether the run was the recorded one.
void replay_under_gdb(faultline::Machine& machine, const faultline::Reproducer& r,
                      const std::string& file, int port) {
    machine.restore();
    faultline::ScheduledRun held = faultline::arm_schedule(
        machine, faultline::swept_files(r), r.args, r.budget_ms, r.user, r.schedule);
    std::string script_path = file + ".gdb";
    std::ofstream(script_path) << gdb_schedule_script(r, held, port);
    machine.listen_gdb(port);
    // Before anyone is told to attach: gdb's continue must find the request.
    machine.release_spawned_to_debugger();
    std::fprintf(stderr,
                 "faultline: QEMU's gdbstub listens on localhost:%d; the program is held at its entry.\n"
                 "faultline: gdb -x %s   attaches and stops before each firing in turn "
                 "(continue goes to the next):\n",
                 port, script_path.c_str());
    for (size_t k = 0; k < held.armed.size(); ++k) {
        std::fprintf(stderr, "faultline:   %s", entry_title(held, k).c_str());
        if (held.armed[k].watch) {
            std::fprintf(stderr, ", abort handler %#llx", (unsigned long long)held.armed[k].watch);
        }
        std::fputc('\n', stderr);
    }
    held.run = machine.wait();
    held.firings = machine.firings();
    faultline::ReplayVerdict verdict = faultline::judge_replay(r, held);
    std::fprintf(stderr, "faultline: under gdb the program %s, %s\n",
                 faultline::ReproOutcome::of(held.run).text().c_str(),
                 verdict.identical ? "every firing at its recorded instruction"
                                   : "not the recorded run:");
    for (const auto& d : verdict.differences) {
        std::fprintf(stderr, "faultline:   %s\n", d.c_str());
    }
}

// Replays a reproducer on a machine like the one that recorded it.
int replay(const Options& o) {
    faultline::Reproducer reproducer = faultline::read_reproducer(o.repro_file);
    MachineConfig config = reproducer.machine_config(o.config);
    std::vector<std::string> differences = reproducer.identity_differences(config);
    for (const auto& d : differences) {
        std::cerr << "faultline: " << (o.force ? "warning" : "error")
                  << ": not the build the reproducer was recorded with: " << d << "\n";
    }
    if (!differences.empty() && !o.force) {
        std::cerr << "faultline: --force replays it anyway\n";
        return kUsageError;
    }
    if (o.gdb_port) {
        config.command_timeout_s = 7 * 24 * 3600;  // a person at a debugger holds the guest
    }
    faultline::Machine machine(config);
    stop_on_signal(machine);
    machine.boot();
    faultline::prepare_replay(machine, reproducer);
    faultline::ScheduledRun replayed = faultline::replay_once(machine, reproducer);
    faultline::ReplayVerdict verdict = faultline::judge_replay(reproducer, replayed);
    faultline::ReproOutcome outcome = faultline::ReproOutcome::of(replayed.run);
    if (o.json) {
        nlohmann::json firings = nlohmann::json::array();
        for (const auto& f : replayed.recorded()) {
            firings.push_back(firing_json(f));
        }
        std::cout << nlohmann::json{{"reproduced", verdict.reproduced},
                                    {"identical", verdict.identical},
                                    {"firings", firings},
                                    {"outcome",
                                     {{"exit_code", outcome.exit_code},
                                      {"signaled", outcome.signaled},
                                      {"timed_out", outcome.timed_out}}},
                                    {"differences", verdict.differences}}
                         .dump()
                  << "\n";
    } else {
        std::cout << "finding: " << reproducer.finding << "\n";
        for (const auto& f : replayed.recorded()) {
            std::printf("fired at icount %llu on vCPU %d, rip %#llx: %s (guest: %s)\n",
                        (unsigned long long)f.icount, f.vcpu, (unsigned long long)f.rip,
                        !f.aborted ? "went neither way" : *f.aborted ? "aborted" : "did not abort",
                        f.status.c_str());
        }
        std::cout << "the program " << outcome.text() << "\n";
        for (const auto& d : verdict.differences) {
            std::cout << "differs: " << d << "\n";
        }
        std::cout << (verdict.identical    ? "reproduced, every firing at its recorded instruction"
                      : verdict.reproduced ? "reproduced, but not at the recorded instructions"
                                           : "not reproduced")
                  << "\n";
    }
    if (o.gdb_port) {
        replay_under_gdb(machine, reproducer, o.repro_file, o.gdb_port);
    }
    tell_kernel_reports(machine.kernel_reports());
    return verdict.reproduced ? 1 : 0;
}

// Ends the CLI by signo, as if the signal had come with nothing to clean up.
[[noreturn]] void die_by(int signo) {
    std::cerr << "faultline: stopped by " << strsignal(signo) << "\n";
    signal(signo, SIG_DFL);
    raise(signo);
    std::_Exit(128 + signo);
}

int main(int argc, char** argv) {
    catch_stop_signals();
    try {
        Options o = parse(argc, argv);
        if (o.command == "help") {
            std::cout << usage();
            return 0;
        }
        int status = o.command == "boot"          ? boot(o)
                     : o.command == "run"         ? run(o)
                     : o.command == "conformance" && o.conformance_target == "pk" ? conformance_pk(o)
                     : o.command == "conformance" ? conformance(o)
                     : o.command == "explore"     ? explore(o)
                     : o.command == "replay"      ? replay(o)
                                                  : sweep(o);
        if (stop_signal) {
            die_by(stop_signal);
        }
        return status;
    } catch (const Stopped& s) {
        die_by(s.signo);
    } catch (const UsageError& e) {
        std::cerr << "faultline: " << e.message << "\n" << usage();
        return kUsageError;
    } catch (const faultline::ConfigError& e) {
        std::cerr << "faultline: error: " << e.what() << "\n";
        return kUsageError;
    } catch (const std::exception& e) {
        std::string what = e.what();
        size_t nl = what.find('\n');
        std::cerr << "faultline: error: " << what.substr(0, nl) << "\n";
        if (nl != std::string::npos) {
            std::cerr << what.substr(nl + 1) << "\n";
        }
        return kHarnessError;
    }
}
