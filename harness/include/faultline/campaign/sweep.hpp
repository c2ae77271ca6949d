// The every-instruction sweep: for each rseq critical section of a program,
// each instruction from its start to its post-commit address, and each event
// kind, fire that event before that instruction and check what the thread
// did against what models::RseqRule (models/) answers for that descriptor,
// signature, event and instruction: abort, go on, or SIGSEGV. A page fault
// is asked about twice, blocking and not, and either answer is right.
//
// Trials run back to back in one program run, within their run group (8
// instruction rows, kRowsPerRunGroup): the schedule holds one trial after
// another, each armed when the previous one's outcome was observed, and the
// program's invariant check covers all trials of its run. A run whose
// invariant broke is replayed one trial per run to find which trial broke
// it; trials the program ended before reaching go on into the next run.
// Every program run starts from one snapshot, the program spawned after the
// baseline run and held at its entry: a run does not depend on the ones
// before it, and each finding can be written as a reproducer that replays
// it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "faultline/campaign/shard.hpp"
#include "faultline/injection/inject.hpp"
#include "faultline/machine/machine.hpp"
#include "faultline/models/rseq_rule.hpp"
#include "faultline/program/closure.hpp"
#include "faultline/program/elf.hpp"

namespace faultline {

struct Instruction {
    uint64_t addr = 0;
    std::string text;  // disassembly, e.g. "addq %rsi, (%rdi)"
    bool operator==(const Instruction&) const = default;
};

// The instructions of a critical section, start through post_commit
// (inclusive: the post-commit instruction is the first that must not abort).
std::vector<Instruction> instructions_of(const std::string& elf_path, const CriticalSection& cs);
// The abort handler's own instructions: from its address through its first
// unconditional jump or return (at most 256 bytes of it).
std::vector<Instruction> abort_handler_of(const std::string& elf_path, const CriticalSection& cs);
// The instructions decoded from [start, end) of the ELF's loaded image (a
// function of its symbol table): ConfigError when they end short of end.
std::vector<Instruction> instructions_in(const std::string& elf_path, uint64_t start, uint64_t end);

// A file whose critical sections are swept: its ELF on the host, and where
// the program finds it in the guest.
struct SweptFile {
    std::string host_path;
    std::string guest_path;
};

// A program run takes the trials of at most this many consecutive
// instruction rows (a run group, in plan order), and a shard takes whole
// groups: each trial then runs with the same others whether the sweep is
// sharded or not, so its cell, firing icount included, is the same, and the
// union of the shards is the unsharded sweep (faultline merge).
inline constexpr size_t kRowsPerRunGroup = 8;

// [begin, end) of the rows of a sweep of rows rows that shard takes: its
// share of the run groups. The kernel sweep groups its rows alike.
inline std::pair<size_t, size_t> shard_rows(const Shard& shard, size_t rows) {
    const auto [first_group, end_group] =
        shard.range((rows + kRowsPerRunGroup - 1) / kRowsPerRunGroup);
    return {first_group * kRowsPerRunGroup, std::min(rows, end_group * kRowsPerRunGroup)};
}

struct SweepConfig {
    std::string host_binary;    // the program's ELF on the host
    std::string guest_program;  // where it is in the guest
    // Shared libraries the program loads at start whose sections are swept
    // too. Every file may be position-independent: triggers are placed at
    // its load base in each run.
    std::vector<SweptFile> libraries;
    // The other files put in the guest before the sweep (the program's
    // other libraries, data files): a reproducer records and puts them too.
    std::vector<Upload> uploads;
    std::vector<std::string> args;
    std::vector<std::string> events = swept_event_names();
    // Fire before the hit-th execution, counted from when the previous
    // trial's outcome was seen (from the program's start for the first).
    uint32_t hit = 1;
    // The signal a signal event sends. A program that does not catch it is
    // killed by it: then the signal column is skipped, with a note.
    int signo = 10;             // SIGUSR1
    // The baseline run's guest time, and the most any run with events may
    // take (each takes at most run_budget_ms for its events); a run that
    // outlives its budget is killed, and a trigger it never reached is
    // reported as never fired.
    uint32_t budget_ms = 5000;
    // Which instruction rows (each with all its events) this sweep runs: the
    // shard's part of the run groups of every sequence in plan order.
    Shard shard;
    // Non-empty: a directory that gets a reproducer file for each finding
    // (a failing cell; trials that break the program's check only together).
    std::string repro_dir;
    // The program and libraries were put in the guest before the sweep (a
    // reproducer's replay puts them again); false: the initramfs has them.
    bool files_put = true;
    // The signature the program registered with sys_rseq: RSEQ_SIG of x86,
    // which glibc registers.
    uint32_t rseq_signature = 0x53053053;
};

struct SweepCell {
    std::string file;  // the guest path of the file holding the section
    // Addresses in that file (its link-time ones), the same in every run.
    uint64_t cs = 0;
    uint64_t insn_addr = 0;
    std::string insn_text;
    std::string event;
    // The workload reached the instruction (its hit-th time) and QEMU raised
    // the event. A cell not reached has no verdict: it is not a failure.
    bool raised = false;
    bool skipped = false;  // its event was left out (see SweepResult::notes)
    bool fired = false;        // and the guest confirmed it carried it out
    std::string guest_status;  // the guest's answer (Firing::status)
    uint64_t fired_icount = 0;
    int vcpu = -1;
    bool in_sequence = false;  // in [start, post_commit)
    // What models::RseqRule answers, once per event the kernel may have
    // seen (a page fault: blocking or not), without repeats; addresses are
    // the file's.
    std::vector<models::RseqVerdict> model;
    bool expected_abort = false;  // every answer is an abort
    bool may_abort = false;       // some answers are, some are not
    // Whether the thread went to the abort handler next (else back to the
    // instruction); unset when it went to neither before the program ended:
    // unknown, which is not "did not abort".
    std::optional<bool> aborted;
    // It went to neither and the program was killed by SIGSEGV: the
    // kernel's answer to a bad descriptor or signature.
    bool killed_by_sigsegv = false;
    bool invariant_ok = false;
    // How the program run that decided the cell ended, after what went
    // wrong with the trial if anything did.
    std::string outcome;
    bool ok = false;

    // What the thread did (aborts, resumes, sigsegv); unset when unknown.
    std::optional<models::RseqOutcome> observed() const;

    // The reproducer of the finding the cell is part of (SweepConfig::repro_dir).
    std::string reproducer;
};

// Trials that break the program's invariant together, none alone, and none
// of which can be left out: delta debugging over the trials of a failing
// program run, each test a run of some of them from the sweep's snapshot.
// Its cells keep the verdicts of their lone runs; the finding itself is a
// failure of the sweep.
struct SweepFinding {
    std::vector<size_t> cells;  // indexes into SweepResult::cells, in firing order
    std::string outcome;        // how the program run with just them ended
    size_t tests = 0;           // program runs the minimization took
};

// What a cell's outcome says of the finding it is in, numbered from 1:
// "; finding 2: ", then the finding's trials and how the program ended.
std::string finding_mention(size_t number);

struct SweepResult {
    std::vector<SweepCell> cells;  // in plan order: sequence, instruction, event
    std::vector<SweepFinding> findings;
    Shard shard;
    // A measurement, not a result: in no report file, so that the same
    // sweep writes the same report (0 when not measured, as in a merge).
    double trials_per_s = 0;
    size_t program_runs = 0;
    // What the sweep had to leave out, and why (e.g. a signal the program
    // does not catch).
    std::vector<std::string> notes;
    // What was swept on what (sweep_identity): the shards of one sweep
    // have the same.
    nlohmann::json identity;
    // The guest kernel's reports of a bug in itself (console.hpp) by the
    // end of the sweep.
    std::vector<std::string> kernel_reports;

    size_t failed() const;   // cells reached and not ok
    bool passed() const { return failed() == 0 && findings.empty(); }
    size_t reached() const;  // cells whose trigger fired
};

// The event a sweep (or an exploration) fires by that name: signal events
// send signo. ConfigError for a name that is not a swept kind, or a signal
// event with a signo outside 1-64.
Event swept_event(const std::string& name, int signo);
// The program's own check passed: it exited 0.
bool check_passed(const RunResult& run);
// How a program run ended, e.g. "exited 1", "was killed by signal 11".
std::string outcome_of(const RunResult& run);
// The run without any event that a sweep or an exploration starts with,
// as a reproducer's replay prepares its machine: the program must pass its
// own check (or run until its budget ends), or no event's run could be
// judged by it (ConfigError with its output). Returns the run; the caller
// snapshots where its runs start (an exploration right after it, a sweep
// once it spawned the program again, held).
RunResult run_baseline(Machine& machine, const std::string& program,
                       const std::vector<std::string>& args, uint32_t budget_ms);

// What a sweep runs: each critical section with its instructions, and the
// events by name.
struct SweptSequence {
    size_t file = 0;  // 0: the program, k: config.libraries[k - 1]
    CriticalSection cs;
    std::vector<Instruction> instructions;
};

struct SweepPlan {
    SweepConfig config;
    std::vector<SweptSequence> sequences;
    std::vector<std::pair<std::string, Event>> events;
    // What the plan leaves out, and why (a library without critical sections).
    std::vector<std::string> notes;
};

// Reads and checks all a sweep needs before anything boots. Throws
// ConfigError for a missing file, no rseq critical section in any, or an
// unknown event name; a library without one is a note.
SweepPlan plan_sweep(const SweepConfig& config);
// What to put in the guest before run_sweep(), in the order a reproducer's
// replay puts it (prepare_replay): the program unless the initramfs has it,
// the swept libraries, the other uploads. The same history up to the
// baseline is what gives the replay the sweep's load addresses.
std::vector<Upload> sweep_uploads(const SweepPlan& plan);
// Runs the program once without events (ConfigError if it fails
// then), spawns it again held at its entry and snapshots the machine
// (replacing an earlier snapshot: every run starts from there), then the
// trials; trials_per_s counts the trials' time only.
SweepResult run_sweep(Machine& machine, const SweepPlan& plan);

// What a sweep's cells depend on, files by content and never by path (a
// shard on another host has the same): the program, its arguments, the
// files it runs with, the events and their settings, and the machine.
nlohmann::json sweep_identity(const SweepPlan& plan, const MachineConfig& machine);
// The machine's part of it: QEMU, kernel and initramfs by SHA-256, and its
// size and kernel arguments.
nlohmann::json machine_identity(const MachineConfig& machine);
// A file as the identities name it: where the guest has it and the
// SHA-256 of its host copy. Every upload's, in order.
nlohmann::json file_identity(const std::string& guest_path, const std::string& host_path);
nlohmann::json uploads_identity(const std::vector<Upload>& uploads);

}  // namespace faultline
