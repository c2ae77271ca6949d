// faultline replay: a reproducer run again on a machine like the one that
// recorded it, compared with the recording; optionally once more under gdb.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "faultline/campaign/optional_json.hpp"
#include "faultline/campaign/replay.hpp"
#include "faultline/campaign/reproducer.hpp"

namespace faultline::cli {

namespace {

std::string synopsis() {
    return "faultline replay FILE [--json] [--force] [--gdb PORT]\n"
           "                       [--qemu/--kernel/--initrd/--firmware PATH]\n";
}

std::string notes() {
    return "replay: boots the machine the reproducer FILE names (its cpus, memory and kernel\n"
           "  arguments; QEMU, kernel and initramfs from the options, which must have the\n"
           "  recorded sha256 unless --force), runs its schedule and compares: exit 1 when\n"
           "  the failure repeats, 0 when it does not (what differs is printed), 2 for a bad\n"
           "  file (the field is named), a missing program copy, a copy of the program or of\n"
           "  a file it brought (libraries, data) whose content changed, or another identity.\n"
           "  --json   print {reproduced, identical, firings: [{icount, vcpu, rip, aborted,\n"
           "           status}], outcome: {exit_code, signaled, timed_out}, differences}\n"
           "  --force  replay even when QEMU, kernel, initramfs or a copy beside FILE differ\n"
           "           from the recording\n"
           "  --gdb PORT   then run it once more for gdb: QEMU's gdbstub listens on\n"
           "           localhost:PORT with the program held at its entry; FILE.gdb (written\n"
           "           beside FILE) attaches gdb, loads the program's symbols (and vmlinux's\n"
           "           for a kernel trigger) and stops before each schedule entry's firing in\n"
           "           turn, in its address space at its hit count\n"
           "           (gdb -x FILE.gdb; continue goes to the next); at the end it says whether\n"
           "           the run under gdb was the recorded one\n";
}

// A kernel trigger's firing also says what QEMU recorded around it.
nlohmann::json firing_json(const ReproFiring& f, const ScheduleEntry& entry) {
    nlohmann::json firing{{"icount", f.icount},
                          {"vcpu", f.vcpu},
                          {"rip", f.rip},
                          {"aborted", optional_json(f.aborted)},
                          {"status", f.status}};
    if (entry.trigger.kernel) {
        firing["handler_pkrs"] = optional_json(f.handler_pkrs);
        firing["return_pkrs"] = optional_json(f.return_pkrs);
        firing["return_percpu"] = optional_json(f.return_percpu);
    }
    return firing;
}

// "schedule entry 2 of 3: migrate before 0x401395, hit 1"; a kernel
// trigger says where it counts.
std::string entry_title(const ScheduledRun& held, size_t k) {
    const ScheduleEntry& e = held.armed[k];
    std::ostringstream title;
    title << "schedule entry " << k + 1 << " of " << held.armed.size() << ": " << e.event.name()
          << " before " << std::hex << std::showbase << e.trigger.vaddr << std::dec << ", hit "
          << e.trigger.hit;
    if (e.trigger.kernel) {
        title << (e.trigger.cr3 ? ", in kernel code while the program's address space is current"
                                : ", in kernel code in every address space");
    }
    return title.str();
}

// gdb's test that the address space a trigger counts in is current: CR3
// without its PCID bits. Empty for a kernel trigger that counts in all.
std::string address_space_test(uint64_t cr3) {
    std::ostringstream test;
    if (cr3) {
        test << "((unsigned long)$cr3 & 0xfffffffffffff000) == " << std::hex << std::showbase
             << cr3 << " && ";
    }
    return test.str();
}

// A gdb script that stops before each firing of the armed schedule, in
// order, by keeping the count the engine keeps (qemu-patches/0010, 0020):
// entry k counts the arrivals at its address in its address space (the
// process's, any thread; a kernel trigger's may be every one) from the
// firing of entry k - 1 on, or from the end of its watch: the first
// arrival of that thread at its address or its watch address, counted for
// no entry. One breakpoint per address, its condition counting in
// convenience variables; a stop's commands move on to the next entry and
// enable only the breakpoints that it and the watch need: an arrival
// anywhere else costs no round trip to gdb. vmlinux gives a kernel
// trigger's stop its symbols.
std::string gdb_schedule_script(const Reproducer& r, const ScheduledRun& held,
                                const std::string& vmlinux, int port) {
    const std::vector<ScheduleEntry>& armed = held.armed;
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
    // The kernel is linked where it runs (no KASLR).
    if (std::any_of(armed.begin(), armed.end(), [](const auto& e) { return e.trigger.kernel; })) {
        script << "add-symbol-file " << vmlinux << "\n";
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
                        << " && " << address_space_test(armed[k].trigger.cr3)
                        << "++$faultline_hits == " << armed[k].trigger.hit << ")";
            }
            if (armed[k].watch && (armed[k].trigger.vaddr == address || armed[k].watch == address)) {
                watch_ends << (watch_ends.tellp() ? " || " : "") << "$faultline_entry == " << k + 1;
            }
        }
        // While a watch goes on nothing is counted, and the arrival that
        // ends it (never a stop), in the process, is counted for no entry.
        std::string ends_watch = watch_ends.tellp()
            ? "(" + watch_ends.str() + ") && " + address_space_test(held.process.cr3) +
                  "$fs_base == $faultline_thread && ($faultline_watching = 0)"
            : "";
        std::string condition = !ends_watch.empty() && counted.tellp()
            ? "($faultline_watching ? " + ends_watch + " : " + counted.str() + ")"
            : !ends_watch.empty() ? "$faultline_watching && " + ends_watch
                                  : "!$faultline_watching && (" + counted.str() + ")";
        script << std::hex << std::showbase << "break *" << address << std::dec << " if "
               << condition << "\n";
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
void replay_under_gdb(Machine& machine, const Reproducer& r,
                      const std::string& file, int port) {
    machine.restore();
    ScheduledRun held = arm_schedule(
        machine, swept_files(r), r.args, r.budget_ms, r.user, r.schedule);
    std::string script_path = file + ".gdb";
    std::ofstream(script_path) << gdb_schedule_script(r, held, machine.config().kernel, port);
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
    ReplayVerdict verdict = judge_replay(r, held);
    std::fprintf(stderr, "faultline: under gdb the program %s, %s\n",
                 ReproOutcome::of(held.run).text().c_str(),
                 verdict.identical ? "every firing at its recorded instruction"
                                   : "not the recorded run:");
    for (const auto& d : verdict.differences) {
        std::fprintf(stderr, "faultline:   %s\n", d.c_str());
    }
}

// Replays a reproducer on a machine like the one that recorded it.
int replay(const Options& o) {
    std::vector<std::string> changed;
    Reproducer reproducer = read_reproducer(o.repro_file, &changed);
    MachineConfig config = reproducer.machine_config(o.config);
    std::vector<std::string> differences = reproducer.identity_differences(config);
    for (const auto& d : differences) {
        std::cerr << "faultline: " << (o.force ? "warning" : "error")
                  << ": not the build the reproducer was recorded with: " << d << "\n";
    }
    for (const auto& c : changed) {
        std::cerr << "faultline: " << (o.force ? "warning" : "error") << ": " << o.repro_file
                  << ": " << c << "\n";
    }
    differences.insert(differences.end(), changed.begin(), changed.end());
    if (!differences.empty() && !o.force) {
        std::cerr << "faultline: --force replays it anyway\n";
        return kUsageError;
    }
    if (o.gdb_port) {
        config.command_timeout_s = 7 * 24 * 3600;  // a person at a debugger holds the guest
    }
    Machine machine(config);
    stop_on_signal(machine);
    boot_machine(machine);
    prepare_replay(machine, reproducer);
    ScheduledRun replayed = replay_once(machine, reproducer);
    ReplayVerdict verdict = judge_replay(reproducer, replayed);
    ReproOutcome outcome = ReproOutcome::of(replayed.run);
    if (o.json) {
        nlohmann::json firings = nlohmann::json::array();
        const std::vector<ReproFiring> recorded = replayed.recorded();
        for (size_t k = 0; k < recorded.size(); ++k) {
            firings.push_back(firing_json(recorded[k], replayed.armed[k]));
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
        const std::vector<ReproFiring> recorded = replayed.recorded();
        for (size_t k = 0; k < recorded.size(); ++k) {
            const ReproFiring& f = recorded[k];
            std::printf("fired at icount %llu on vCPU %d, rip %#llx: %s (guest: %s)\n",
                        (unsigned long long)f.icount, f.vcpu, (unsigned long long)f.rip,
                        what_followed(f, replayed.armed[k]).c_str(), f.status.c_str());
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

}  // namespace

const Command replay_command{"replay", synopsis, notes, replay};

}  // namespace faultline::cli
