// faultline: command-line front end of the harness. This file only
// dispatches: each subcommand lives in its own file (boot.cpp, run.cpp,
// sweep.cpp, explore.cpp, replay.cpp, conformance.cpp, merge.cpp) with its
// usage text, and options.cpp parses the options they share.
//
// Exit status: boot 0; run the program's own status (128+N when signal N
// killed it); explore 0 when no run broke the program's check, 1 when one
// did (each finding listed); sweep 0 when every cell the workload reached
// matches the rseq rule (a kernel sweep: the PKS interrupt rule), no set of
// trials breaks the program only together,
// at least PCT% were reached, and the guest kernel reported no bug in
// itself, 1 otherwise (run and sweep print each kernel report line on
// stderr); merge what the unsharded sweep would; replay 1 when the
// reproducer's failure repeats, 0 when it does not; 2 for bad usage (one
// line saying what is wrong, then which --help to read) or bad input; 125
// when the harness failed (one line naming the cause on stderr, evidence
// below it). SIGINT, SIGTERM or SIGHUP end QEMU and remove the run
// directory, then end the CLI by that signal.
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "cli.hpp"
#include "faultline/machine/errors.hpp"

namespace {

using namespace faultline::cli;

// In the order the usage lists them.
const Command* const kCommands[] = {&boot_command,   &run_command,         &sweep_command,
                                    &explore_command, &replay_command, &conformance_command,
                                    &merge_command};

const Command* command_named(const std::string& name) {
    for (const Command* command : kCommands) {
        if (name == command->name) {
            return command;
        }
    }
    return nullptr;
}

// What `faultline COMMAND --help` prints.
std::string usage_of(const Command& command) {
    return "usage: " + command.synopsis() + options_usage() +
           (command.notes ? command.notes() : "");
}

// What `faultline --help` prints: every command's.
std::string usage() {
    std::string text;
    for (const Command* command : kCommands) {
        text += (text.empty() ? "usage: " : "       ") + command->synopsis();
    }
    text += options_usage();
    for (const Command* command : kCommands) {
        if (command->notes) {
            text += command->notes();
        }
    }
    return text;
}

// Ends the CLI by signo, as if the signal had come with nothing to clean up.
[[noreturn]] void die_by(int signo) {
    std::cerr << "faultline: stopped by " << strsignal(signo) << "\n";
    signal(signo, SIG_DFL);
    raise(signo);
    std::_Exit(128 + signo);
}

}  // namespace

int main(int argc, char** argv) {
    catch_stop_signals();
    const Command* command = nullptr;
    try {
        if (argc < 2) {
            throw UsageError{"no command given"};
        }
        std::string name = argv[1];
        if (name == "--help" || name == "-h" || name == "help") {
            std::cout << usage();
            return 0;
        }
        command = command_named(name);
        if (!command) {
            throw UsageError{"unknown command '" + name + "'"};
        }
        Options options = parse_options(argc, argv);
        if (options.help) {
            std::cout << usage_of(*command);
            return 0;
        }
        int status = command->run(options);
        if (stop_signal) {
            die_by(stop_signal);
        }
        return status;
    } catch (const Stopped& s) {
        die_by(s.signo);
    } catch (const UsageError& e) {
        std::cerr << "faultline: " << e.message << "\nTry 'faultline "
                  << (command ? command->name + std::string(" ") : "") << "--help'.\n";
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
