// The option parsing every subcommand shares, and the usage text of the
// options it knows. A subcommand's own synopsis sits in its own file.
#include <algorithm>
#include <filesystem>
#include <sstream>

#include "cli.hpp"
#include "faultline/injection/trace.hpp"
#include "faultline/machine/errors.hpp"

namespace faultline::cli {

namespace {

// The protection-key event kinds, comma-separated: all of them, or those
// "all" (the default) stands for, or those recorded only when named.
enum class PkKinds { every, in_all, named_only };
std::string pk_kind_list(PkKinds which) {
    std::string list;
    for (const auto& k : pk_event_kinds()) {
        if (which == PkKinds::every || k.in_all == (which == PkKinds::in_all)) {
            list += (list.empty() ? "" : ",") + std::string(k.name);
        }
    }
    return list;
}

// What `faultline conformance TARGET` checks.
const std::vector<std::string> kConformanceTargets{"rseq", "pk", "pks"};

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

}  // namespace

std::string options_usage() {
    return "options:\n"
           "  --qemu PATH --kernel PATH --initrd PATH --firmware DIR   (default: the built tree)\n"
           "  --cpus N (2)  --memory MIB (256)  --timeout SECONDS (120, host time)\n"
           "  --budget MS   guest time a program run may take before it is killed\n"
           "                (run: no limit; sweep, explore: 5000, and a run with events\n"
           "                at most twice the run without plus 20 ms, 20 per\n"
           "                page_fault_blocking, 1 per other event; a sweep: of the run\n"
           "                group's events)\n"
           "  --kernel-arg ARG   append to the guest kernel command line (repeatable)\n"
           "  --no-boot-cache   boot the guest rather than load its state at ready from\n"
           "                ~/.cache/faultline/boot (FAULTLINE_CACHE), and do not save it\n"
           "  --root        run, sweep: run the program as root (default: nobody, uid 65534)\n"
           "  --binary HOST_FILE   run, sweep, explore: upload this program as /tmp/NAME with\n"
           "                the shared libraries it needs, found as this host's loader finds\n"
           "                them (RPATH, LD_LIBRARY_PATH, RUNPATH, ld.so.cache, /lib, ...)\n"
           "  --library LIB.so   run, sweep: upload this library where the program's loader\n"
           "                finds it (sweep: and sweep its critical sections; repeatable)\n"
           "  --file HOST[:GUEST]   run, sweep, explore: upload a data file (default GUEST:\n"
           "                /tmp/BASENAME; repeatable)\n"
           "  --pk-trace FILE   run: write the program's protection-key events (its address\n"
           "                space only), one JSON object per line, in order\n"
           "  --pk-kinds KIND,...   run: which of " + pk_kind_list(PkKinds::every) + "\n"
           "                (default all: " + pk_kind_list(PkKinds::in_all) + ";\n"
           "                " + pk_kind_list(PkKinds::named_only) + " only when named)\n"
           "  --precise-xinuse   run, sweep: the vCPUs report an XSAVE component not in use\n"
           "                when it is in its initial configuration (PKRU 0, XMM/YMM 0), as\n"
           "                some CPUs do, instead of every component in use\n"
           "  --junit FILE   sweep (rseq and kernel), explore, merge, conformance: JUnit XML,\n"
           "                one test case a cell, run or check (a cell not reached: skipped)\n"
           "  --repro-dir DIR   sweep, explore: write a reproducer (JSON, the program copied\n"
           "                beside it) for each finding into DIR\n"
           "  --kernel-function SYM[,SYM...]   sweep: a kernel sweep of these functions\n"
           "  --vmlinux PATH   sweep --kernel-function: the guest kernel's symbols\n"
           "  --every-address-space   sweep --kernel-function: count in every process\n"
           "  --shard I/N   sweep: the I-th of N near-equal parts of the instruction rows\n"
           "                (in groups of 8, which no program run crosses); explore: of the\n"
           "                runs (1 <= I <= N); the N shards cover it all once, and\n"
           "                faultline merge makes their reports the unsharded one\n";
}

Options parse_options(int argc, char** argv) {
    Options o;
    o.command = argv[1];
    // Whatever else is wrong on the line, the help is what was asked for.
    for (int i = 2; i < argc && std::string(argv[i]) != "--"; ++i) {
        if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
            o.help = true;
            return o;
        }
    }
    int first = 2;
    if (o.command == "conformance") {
        o.conformance_target = argc < 3 ? "" : argv[2];
        if (std::find(kConformanceTargets.begin(), kConformanceTargets.end(),
                      o.conformance_target) == kConformanceTargets.end()) {
            throw UsageError{(argc < 3 ? std::string("conformance needs a target")
                                       : "unknown conformance target '" + o.conformance_target +
                                             "'") +
                             " (known: rseq, pk, pks)"};
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
        if (o.command == "merge") {
            if (arg == "--json" || arg == "--html" || arg == "--junit" ||
                arg == "--require-coverage") {
            } else if (arg.starts_with("-")) {
                throw UsageError{"merge takes the shards' reports, --json, --html, --junit and "
                                 "--require-coverage, not " + arg};
            } else {
                o.shard_reports.push_back(arg);
                continue;
            }
        }
        if (arg == "--" && o.command != "replay") {
            o.program.assign(argv + i + 1, argv + argc);
            break;
        } else if (parse_explore_option(o, arg, value)) {
        } else if (arg == "--shard" && (o.command == "sweep" || o.command == "explore")) {
            try {
                o.shard = parse_shard(value());
            } catch (const ConfigError& e) {
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
                                       o.command == "merge" ||
                                       o.conformance_target == "pk" ||
                                       o.conformance_target == "pks")) {
            o.json_file = value();
        } else if (arg == "--json") {
            o.json = true;
        } else if (arg == "--junit" && (o.command == "sweep" || o.command == "merge" ||
                                        o.command == "explore" || o.command == "conformance")) {
            o.junit_file = value();
        } else if (arg == "--html" && (o.command == "sweep" || o.command == "merge")) {
            o.html_file = value();
        } else if (arg == "--hit" && o.command == "sweep") {
            int hit = parse_int(arg, value());
            if (hit < 1) {
                throw UsageError{"--hit counts executions from 1"};
            }
            o.hit = uint32_t(hit);
        } else if (arg == "--events" && (o.command == "sweep" || o.command == "explore")) {
            o.events_given = true;
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
        } else if (arg == "--kernel-function" && o.command == "sweep") {
            std::stringstream list(value());
            for (std::string f; std::getline(list, f, ',');) {
                if (!f.empty()) {
                    o.kernel_functions.push_back(f);
                }
            }
            if (o.kernel_functions.empty()) {
                throw UsageError{"--kernel-function needs a function name"};
            }
        } else if (arg == "--vmlinux" && o.command == "sweep") {
            o.vmlinux = value();
        } else if (arg == "--every-address-space" && o.command == "sweep") {
            o.every_address_space = true;
        } else if (arg == "--root" && (o.command == "run" || o.command == "sweep")) {
            o.user = RunAs::root;
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
        } else if (arg == "--library" && (o.command == "sweep" || o.command == "run")) {
            o.libraries.push_back(value());
        } else if (arg == "--file" &&
                   (o.command == "run" || o.command == "sweep" || o.command == "explore")) {
            o.files.push_back(value());
        } else if (arg == "--require-coverage" && (o.command == "sweep" || o.command == "merge")) {
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
        } else if (arg == "--no-boot-cache") {
            o.config.boot_cache_dir.clear();
        } else if (arg == "--precise-xinuse" && (o.command == "run" || o.command == "sweep")) {
            o.config.precise_xinuse = true;
        } else {
            throw UsageError{"unknown option '" + arg + "'"};
        }
    }
    if (o.command == "explore") {
        check_explore_options(o);
    }
    if (o.kernel_functions.empty()) {
        for (const auto& [given, flag] :
             {std::pair{!o.vmlinux.empty(), "--vmlinux"},
              std::pair{o.every_address_space, "--every-address-space"},
              std::pair{o.command == "sweep" && o.user == RunAs::root, "--root"}}) {
            if (given) {
                throw UsageError{std::string(flag) + " is for a kernel sweep (--kernel-function)"};
            }
        }
    } else {
        for (const auto& [given, flag] :
             {std::pair{!o.libraries.empty(), "--library"},
              std::pair{o.signo != SweepConfig().signo, "--signal"},
              std::pair{o.require_coverage != 0, "--require-coverage"}}) {
            if (given) {
                throw UsageError{std::string(flag) + " is for an rseq sweep, not a kernel sweep"};
            }
        }
        if (!o.events_given) {
            o.events = kernel_event_names();
        }
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
        pk_event_kinds_from_list(o.pk_kinds);
    } catch (const ConfigError& e) {
        throw UsageError{"--pk-kinds: " + std::string(e.what())};
    }
    // A report that cannot be written is found before the boot, not after
    // the whole run.
    for (const auto& [flag, file] : {std::pair{"--json", o.json_file}, {"--html", o.html_file},
                                     {"--junit", o.junit_file}}) {
        std::filesystem::path parent = std::filesystem::path(file).parent_path();
        if (!file.empty() && !parent.empty() && !std::filesystem::is_directory(parent)) {
            throw UsageError{std::string(flag) + " " + file + ": no directory " + parent.string()};
        }
    }
    return o;
}

}  // namespace faultline::cli
