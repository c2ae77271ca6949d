// Running a schedule given in file addresses, and replaying a reproducer
// with it: the machine is prepared once (the files put in the guest, the
// event-free baseline runs, a snapshot) and each replay restores the
// snapshot, so replays repeat the recorded run instruction for instruction.
#pragma once

#include <string>
#include <vector>

#include "faultline/campaign/reproducer.hpp"
#include "faultline/campaign/sweep.hpp"
#include "faultline/machine/machine.hpp"

namespace faultline {

// What a program under a schedule did: how it ended, what was armed (in
// the process's addresses), what fired, and the load bias of each file.
struct ScheduledRun {
    Process process;
    RunResult run;
    std::vector<ScheduleEntry> armed;
    std::vector<Firing> firings;
    std::vector<uint64_t> biases;

    // The firings as a reproducer records them: aborted is whether the
    // thread went to the entry's watch address next.
    std::vector<ReproFiring> recorded() const;
};

// What followed firing f of entry: where the watched thread went ("aborted",
// "did not abort", "went neither way"), or what a kernel trigger recorded
// ("handler IA32_PKRS 0x55555554, returned with 0x55555558, cache ...").
std::string what_followed(const ReproFiring& f, const ScheduleEntry& entry);

// Arms every entry of the schedule at its file's load base in process, a
// program spawned held at its entry point (its libraries mapped), which
// stays held (Machine::run_spawned() lets it go). ConfigError when a file
// of the schedule is not loaded by the program.
ScheduledRun arm_spawned(Machine& machine, const Process& process,
                         const std::vector<SweptFile>& files,
                         const std::vector<ReproEntry>& schedule);
// Machine::run_spawned(), and what fired, into scheduled.
void run_armed(Machine& machine, ScheduledRun& scheduled);
// Spawns files[0].guest_path held at its entry point, then arm_spawned().
ScheduledRun arm_schedule(Machine& machine, const std::vector<SweptFile>& files,
                          const std::vector<std::string>& args, uint32_t budget_ms, RunAs user,
                          const std::vector<ReproEntry>& schedule);
// arm_schedule(), then runs the program and reads the firings.
ScheduledRun run_schedule(Machine& machine, const std::vector<SweptFile>& files,
                          const std::vector<std::string>& args, uint32_t budget_ms, RunAs user,
                          const std::vector<ReproEntry>& schedule);

// The swept files of a reproducer: its copies and where the guest has them.
std::vector<SweptFile> swept_files(const Reproducer& reproducer);

// On a booted machine: puts the files in the guest (the program, the swept
// libraries, then the other uploads: the order a campaign puts them in),
// runs the baseline runs
// and snapshots the machine, the point every replay starts from.
void prepare_replay(Machine& machine, const Reproducer& reproducer);
// Restores the snapshot and runs the reproducer's schedule once.
ScheduledRun replay_once(Machine& machine, const Reproducer& reproducer);

struct ReplayVerdict {
    // The failure showed again: the program ended as recorded and each
    // entry fired and went where it went (aborted or not, the guest's answer).
    bool reproduced = false;
    // And every firing came at the recorded icount, vCPU and rip.
    bool identical = false;
    // One line per difference from the recording; empty when identical.
    std::vector<std::string> differences;
};
// setup with the schedule, the finding, and the firings and outcome of
// run, a run of the schedule as a replay of setup runs it: a reproducer.
Reproducer record_reproducer(Reproducer setup, const std::vector<ReproEntry>& schedule,
                             const std::string& finding, const ScheduledRun& run);

ReplayVerdict judge_replay(const Reproducer& reproducer, const ScheduledRun& replayed);

}  // namespace faultline
