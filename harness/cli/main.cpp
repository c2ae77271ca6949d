// faultline: command-line front end of the harness.
//
//   faultline boot [--json] [OPTIONS]
//   faultline run [--json] [--root] [--binary HOST_FILE] [OPTIONS] -- PROGRAM [ARGS...]
//   faultline run [--json] [--root] --binary HOST_FILE [OPTIONS] [-- ARGS...]
//   (run also takes --pk-trace FILE [--pk-kinds KIND,...])
//   faultline conformance rseq [OPTIONS]
//   faultline conformance pk [--json FILE] [OPTIONS]
//   faultline sweep [--binary PATH] [--library LIB.so]... [--events EVENT,...]
//                   [--json FILE] [--html FILE] [--hit N] [--signal N] [--require-coverage PCT]
//                   [OPTIONS] [-- ARGS...]
//
// Exit status: boot 0; run the program's own status (128+N when signal N
// killed it); sweep 0 when every cell the workload reached matches the rseq
// rule, at least PCT% were reached, and the guest kernel reported no bug in
// itself, 1 otherwise (run and sweep print each
// kernel report line on stderr); 2 for bad usage or bad input; 125 when the
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
#include "faultline/machine.hpp"
#include "faultline/pk_conformance.hpp"
#include "faultline/sweep.hpp"
#include "faultline/sweep_report.hpp"
#include "faultline/trace.hpp"

namespace {

using faultline::MachineConfig;

constexpr int kUsageError = 2;
constexpr int kHarnessError = 125;

std::string pk_kind_list() {
    std::string list;
    for (const auto& k : faultline::pk_event_kinds()) {
        list += (list.empty() ? "" : ",") + std::string(k.name);
    }
    return list;
}

std::string usage() {
    return "usage: faultline boot [--json] [OPTIONS]\n"
           "       faultline run [--json] [--root] [--binary HOST_FILE] [OPTIONS] -- [PROGRAM] [ARGS...]\n"
           "       faultline sweep [--binary PATH] [--library LIB.so]... [--events " +
           faultline::swept_event_list() + "]\n"
           "                       [--json FILE] [--html FILE] [--hit N] [--signal N]\n"
           "                       [--require-coverage PCT]\n"
           "                       [OPTIONS] [-- ARGS...]\n"
           "       faultline conformance rseq [OPTIONS]   (e.g. --kernel a kernel under test)\n"
           "       faultline conformance pk [--json FILE] [OPTIONS]   (QEMU's page-permission and\n"
           "                       protection-key check against models/ PkCheck, every case)\n"
           "options:\n"
           "  --qemu PATH --kernel PATH --initrd PATH --firmware DIR   (default: the built tree)\n"
           "  --cpus N (2)  --memory MIB (256)  --timeout SECONDS (120, host time)\n"
           "  --budget MS   guest time a program run may take before it is killed\n"
           "                (run: no limit; sweep: 5000)\n"
           "  --kernel-arg ARG   append to the guest kernel command line (repeatable)\n"
           "  --root        run the program as root (default: nobody, uid 65534)\n"
           "  --pk-trace FILE   run: write the program's protection-key events (its address\n"
           "                space only), one JSON object per line, in order\n"
           "  --pk-kinds KIND,...   which (" + pk_kind_list() + "; default all)\n";
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
    MachineConfig config = MachineConfig::defaults();
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
        o.command != "conformance") {
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
        if (arg == "--") {
            o.program.assign(argv + i + 1, argv + argc);
            break;
        } else if (arg == "--json" &&
                   (o.command == "sweep" || o.conformance_target == "pk")) {
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
        } else if (arg == "--events" && o.command == "sweep") {
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
        } else if (arg == "--signal" && o.command == "sweep") {
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
        } else {
            throw UsageError{"unknown option '" + arg + "'"};
        }
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
    if (o.conformance_target == "pk" && !o.json_file.empty()) {
        std::filesystem::path parent = std::filesystem::path(o.json_file).parent_path();
        if (!parent.empty() && !std::filesystem::is_directory(parent)) {
            throw UsageError{"--json " + o.json_file + ": no directory " + parent.string()};
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
        program = "/tmp/" + std::filesystem::path(o.binary).filename().string();
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
        std::string name = "sweep " + guest;
        for (const auto& a : args) {
            name += " " + a;
        }
        checks.push_back({name, result.failed() == 0, detail});
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
        std::ofstream out(o.json_file);
        out << faultline::pk_conformance_json(result).dump(1) << "\n";
        if (!out) {
            throw faultline::Error("cannot write " + o.json_file);
        }
    }
    size_t reports = tell_kernel_reports(machine.kernel_reports());
    return result.mismatches() == 0 && reports == 0 ? 0 : 1;
}

int sweep(const Options& o) {
    faultline::SweepConfig config;
    config.events = o.events;
    config.hit = o.hit;
    config.signo = o.signo;
    if (o.budget_ms >= 0) {
        config.budget_ms = uint32_t(o.budget_ms);
    }
    if (o.binary.empty()) {
        config.host_binary = faultline::build_dir() + "/linux/initramfs/rseq-counter";
        config.guest_program = kBuiltinProgram;
        config.args = o.program.empty() ? std::vector<std::string>{"1", "1000"} : o.program;
    } else {
        config.host_binary = o.binary;
        config.guest_program = "/tmp/" + std::filesystem::path(o.binary).filename().string();
        config.args = o.program;
    }
    // Where the dynamic loader looks first: the program finds them there.
    for (const auto& library : o.libraries) {
        config.libraries.push_back(
            {library, "/lib/x86_64-linux-gnu/" + std::filesystem::path(library).filename().string()});
    }
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
    auto write = [](const std::string& path, const std::string& text) {
        std::ofstream out(path);
        out << text;
        if (!out) {
            throw faultline::Error("cannot write " + path);
        }
    };
    if (!o.json_file.empty()) {
        write(o.json_file, faultline::sweep_json(result));
    }
    if (!o.html_file.empty()) {
        write(o.html_file, faultline::sweep_html(result, "faultline sweep: " + config.guest_program));
    }
    size_t reports = tell_kernel_reports(machine.kernel_reports());
    bool covered = result.reached() * 100 >= size_t(o.require_coverage) * result.cells.size();
    if (!covered) {
        std::fprintf(stderr, "faultline: the workload reached %zu of %zu cells, under the %d%% "
                     "--require-coverage asks for\n", result.reached(), result.cells.size(),
                     o.require_coverage);
    }
    return result.failed() == 0 && reports == 0 && covered ? 0 : 1;
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
