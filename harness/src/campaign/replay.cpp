#include "faultline/campaign/replay.hpp"

#include <algorithm>
#include <sstream>
#include <tuple>

#include "faultline/campaign/report_text.hpp"
#include "faultline/machine/errors.hpp"
#include "faultline/program/address_space.hpp"

namespace faultline {

namespace {

std::string optional_hex(const std::optional<uint32_t>& value) {
    return value ? hex(*value) : "none";
}

std::string aborted_text(const std::optional<bool>& aborted) {
    return !aborted ? "went neither way" : *aborted ? "aborted" : "did not abort";
}

}  // namespace

std::string what_followed(const ReproFiring& f, const ScheduleEntry& entry) {
    if (entry.trigger.kernel) {
        return "handler IA32_PKRS " + optional_hex(f.handler_pkrs) + ", " +
               (f.return_pkrs ? "returned with " + optional_hex(f.return_pkrs) + ", cache " +
                                    optional_hex(f.return_percpu)
                              : std::string("did not return there"));
    }
    return aborted_text(f.aborted);
}

ScheduledRun arm_spawned(Machine& machine, const Process& process,
                         const std::vector<SweptFile>& files,
                         const std::vector<ReproEntry>& schedule) {
    ScheduledRun result;
    result.process = process;
    const Process& p = result.process;
    std::vector<ScheduleEntry>& armed = result.armed;
    for (const auto& file : files) {
        result.biases.push_back(load_bias(file.host_path, p.mappings, file.guest_path));
    }
    for (const auto& e : schedule) {
        if (e.kernel) {
            armed.push_back({{e.addr, e.every_address_space ? 0 : p.cr3, e.hit, true},
                             Event::named(e.event, e.arg.value_or(FAULTLINE_ARG_DEFAULT)), 0,
                             e.percpu});
            continue;
        }
        size_t k = 0;
        while (k < files.size() && files[k].guest_path != e.file) {
            ++k;
        }
        if (k == files.size()) {
            throw ConfigError("schedule entry in " + e.file + ", which is not a swept file");
        }
        uint64_t bias = result.biases[k];
        armed.push_back({{e.addr + bias, p.cr3, e.hit},
                         Event::named(e.event, e.arg.value_or(FAULTLINE_ARG_DEFAULT)),
                         e.watch ? *e.watch + bias : 0});
    }
    machine.arm(armed);
    return result;
}

void run_armed(Machine& machine, ScheduledRun& scheduled) {
    scheduled.run = machine.run_spawned();
    scheduled.firings = machine.firings();
}

ScheduledRun arm_schedule(Machine& machine, const std::vector<SweptFile>& files,
                          const std::vector<std::string>& args, uint32_t budget_ms, RunAs user,
                          const std::vector<ReproEntry>& schedule) {
    Process process = machine.spawn(files.front().guest_path, args, budget_ms, user,
                                    Hold::program_entry);
    try {
        return arm_spawned(machine, process, files, schedule);
    } catch (const ConfigError&) {
        machine.run_spawned();  // nothing may stay held
        throw;
    }
}

ScheduledRun run_schedule(Machine& machine, const std::vector<SweptFile>& files,
                          const std::vector<std::string>& args, uint32_t budget_ms, RunAs user,
                          const std::vector<ReproEntry>& schedule) {
    ScheduledRun result = arm_schedule(machine, files, args, budget_ms, user, schedule);
    run_armed(machine, result);
    return result;
}

std::vector<ReproFiring> ScheduledRun::recorded() const {
    std::vector<ReproFiring> out;
    for (const Firing& f : firings) {
        const ScheduleEntry& entry = armed.at(f.entry);
        std::optional<bool> aborted;
        // next_rip stays 0 while the watch has not ended.
        if (entry.watch != 0 && f.next_rip != 0) {
            aborted = f.next_rip == entry.watch;
        }
        ReproFiring firing{f.icount, f.vcpu, f.rip, aborted, f.status};
        if (entry.trigger.kernel) {
            firing.handler_pkrs = f.handler_pkrs;
            if (f.next_vcpu) {
                firing.return_pkrs = f.next_pkrs;
                firing.return_percpu = f.next_percpu;
            }
        }
        out.push_back(firing);
    }
    return out;
}

std::vector<SweptFile> swept_files(const Reproducer& reproducer) {
    std::vector<SweptFile> files;
    for (const auto& f : reproducer.files) {
        files.push_back({f.host_path, f.guest_path});
    }
    return files;
}

void prepare_replay(Machine& machine, const Reproducer& reproducer) {
    // The order the campaign put them in: the guest's history up to the
    // snapshot is the recording's.
    for (size_t k = 0; k < reproducer.files.size(); ++k) {
        if (!reproducer.files[k].put) {
            continue;
        }
        // The program is executable; libraries are read by the loader.
        machine.put_file(reproducer.files[k].host_path, reproducer.files[k].guest_path,
                         k == 0 ? 0755 : 0644);
    }
    for (const auto& u : reproducer.uploads) {
        machine.put_file(u.host_path, u.guest_path, u.mode);
    }
    for (uint32_t i = 0; i < reproducer.baseline_runs; ++i) {
        machine.run(reproducer.files.front().guest_path, reproducer.args,
                    reproducer.baseline_budget_ms, reproducer.user);
    }
    machine.snapshot();
}

ScheduledRun replay_once(Machine& machine, const Reproducer& reproducer) {
    machine.restore();
    return run_schedule(machine, swept_files(reproducer), reproducer.args, reproducer.budget_ms,
                        reproducer.user, reproducer.schedule);
}

Reproducer record_reproducer(Reproducer setup, const std::vector<ReproEntry>& schedule,
                             const std::string& finding, const ScheduledRun& run) {
    setup.schedule = schedule;
    setup.finding = finding;
    setup.firings = run.recorded();
    setup.outcome = ReproOutcome::of(run.run);
    return setup;
}

ReplayVerdict judge_replay(const Reproducer& r, const ScheduledRun& run) {
    ReplayVerdict v;
    const std::vector<ReproFiring> firings = run.recorded();
    bool same_course = true;
    bool same_places = true;
    ReproOutcome outcome = ReproOutcome::of(run.run);
    if (outcome != r.outcome) {
        same_course = false;
        v.differences.push_back("outcome: the program " + outcome.text() + " (recorded: " +
                                r.outcome.text() + ")");
    }
    size_t n = std::max(r.firings.size(), firings.size());
    for (size_t k = 0; k < n; ++k) {
        std::string entry = "firing " + std::to_string(k) + ": ";
        if (k >= firings.size()) {
            same_course = false;
            v.differences.push_back(entry + "did not fire (recorded at icount " +
                                    std::to_string(r.firings[k].icount) + ")");
            continue;
        }
        const ReproFiring& got = firings[k];
        if (k >= r.firings.size()) {
            same_course = false;
            v.differences.push_back(entry + "fired at icount " + std::to_string(got.icount) +
                                    ", not in the recording");
            continue;
        }
        const ReproFiring& want = r.firings[k];
        if (got.aborted != want.aborted) {
            same_course = false;
            v.differences.push_back(entry + "the thread " + aborted_text(got.aborted) +
                                    " (recorded: " + aborted_text(want.aborted) + ")");
        }
        if (got.status != want.status) {
            same_course = false;
            v.differences.push_back(entry + "the guest answered \"" + got.status +
                                    "\" (recorded: \"" + want.status + "\")");
        }
        for (const auto& [what, g, w] :
             {std::tuple{"the handler's IA32_PKRS", got.handler_pkrs, want.handler_pkrs},
              std::tuple{"IA32_PKRS at the return", got.return_pkrs, want.return_pkrs},
              std::tuple{"the per-CPU value at the return", got.return_percpu,
                         want.return_percpu}}) {
            if (g != w) {
                same_course = false;
                v.differences.push_back(entry + what + " " + optional_hex(g) + " (recorded: " +
                                        optional_hex(w) + ")");
            }
        }
        if (got.icount != want.icount || got.vcpu != want.vcpu || got.rip != want.rip) {
            same_places = false;
            v.differences.push_back(entry + "icount " + std::to_string(got.icount) + " vCPU " +
                                    std::to_string(got.vcpu) + " rip " + hex(got.rip) +
                                    " (recorded: icount " + std::to_string(want.icount) +
                                    " vCPU " + std::to_string(want.vcpu) + " rip " +
                                    hex(want.rip) + ")");
        }
    }
    v.reproduced = same_course;
    v.identical = same_course && same_places;
    return v;
}

}  // namespace faultline
