// Running a sweep: the trials of a plan back to back on a booted machine,
// each cell judged against the model.
#include "faultline/campaign/sweep.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <sstream>

#include "faultline/campaign/ddmin.hpp"
#include "faultline/campaign/replay.hpp"
#include "faultline/campaign/report_text.hpp"
#include "faultline/campaign/reproducer.hpp"
#include "faultline/machine/errors.hpp"
#include "faultline/machine/files.hpp"

namespace faultline {

bool check_passed(const RunResult& run) { return !run.signaled && run.exit_code == 0; }

std::string outcome_of(const RunResult& run) {
    if (run.timed_out) {
        return "was killed at the end of its budget";
    }
    return (run.signaled ? "was killed by signal " : "exited ") + std::to_string(run.exit_code);
}

namespace {

// What kernel/rseq.c may see of an event (the table's rseq column): a page
// fault that the guest does not make block is asked about both ways.
std::vector<models::RseqEvent> model_events(const Event& event) {
    switch (event_kind(event.kind).rseq_event) {
    case FAULTLINE_RSEQ_PREEMPT: return {models::RseqEvent::preempt};
    case FAULTLINE_RSEQ_SIGNAL: return {models::RseqEvent::signal};
    case FAULTLINE_RSEQ_MIGRATE: return {models::RseqEvent::migrate};
    case FAULTLINE_RSEQ_PAGE_FAULT_THAT_BLOCKS: return {models::RseqEvent::page_fault_that_blocks};
    case FAULTLINE_RSEQ_PAGE_FAULT_THAT_MAY_BLOCK:
        return {models::RseqEvent::page_fault_that_does_not_block,
                models::RseqEvent::page_fault_that_blocks};
    }
    return {};  // FAULTLINE_RSEQ_NONE: reaches no guest, never swept
}

// What the kernel finds when an event lands in the sequence: its
// descriptor (set by the program just before start, and still set at
// post_commit), the signature registered, the word before abort_ip in the
// file, no rseq->flags. Addresses are the file's: the model's checks
// against TASK_SIZE hold for the loaded ones too.
models::RseqSituation situation_of(const std::string& elf_path, const CriticalSection& cs,
                                   uint32_t registered_signature) {
    models::RseqSituation s;
    s.rseq_cs = cs.descriptor;
    s.cs = models::RseqCs{cs.version, cs.flags, cs.start, cs.post_commit - cs.start, cs.abort};
    s.registered_signature = registered_signature;
    std::string word = read_vaddr_bytes(elf_path, cs.abort - 4, 4);
    if (word.size() == 4) {
        uint32_t signature;
        std::memcpy(&signature, word.data(), 4);
        s.signature_before_abort = signature;
    }
    return s;
}

// The thread did what one of the model's answers says.
bool thread_did_what_the_model_says(const SweepCell& c) {
    std::optional<models::RseqOutcome> observed = c.observed();
    return observed &&
           std::any_of(c.model.begin(), c.model.end(),
                       [&](const models::RseqVerdict& v) { return v.outcome == *observed; });
}

// ... and the program's own check passed unless the answer was SIGSEGV.
bool agrees_with_the_model(const SweepCell& c) {
    return thread_did_what_the_model_says(c) &&
           (c.invariant_ok || *c.observed() == models::RseqOutcome::sigsegv);
}

// In a run of several trials, what the thread did at this one's event is
// its own: the watch saw it go to the abort handler or on. If the model
// says otherwise, this trial is wrong whatever broke the program's check.
bool wrong_on_its_own(const SweepCell& c) {
    return c.fired && c.observed() && !thread_did_what_the_model_says(c);
}

// Runs trials of a plan, each an index into cells, which it fills in.
class Sweeper {
public:
    Sweeper(Machine& machine, const SweepPlan& plan) : machine_(machine), plan_(plan) {
        size_t rows = 0;
        for (const auto& sequence : plan.sequences) {
            rows += sequence.instructions.size();
        }
        const auto [first_row, end_row] = shard_rows(plan.config.shard, rows);
        size_t row = 0;
        for (size_t s = 0; s < plan.sequences.size(); ++s) {
            const auto& [file, cs, instructions] = plan.sequences[s];
            models::RseqSituation situation =
                situation_of(host_path(file), cs, plan.config.rseq_signature);
            for (size_t i = 0; i < instructions.size(); ++i, ++row) {
                if (row < first_row || row >= end_row) {
                    continue;
                }
                for (size_t e = 0; e < plan.events.size(); ++e) {
                    trials_.push_back({s, i, e, row / kRowsPerRunGroup});
                    SweepCell c;
                    c.file = guest_path(file);
                    c.cs = cs.start;
                    c.insn_addr = instructions[i].addr;
                    c.insn_text = instructions[i].text;
                    c.event = plan.events[e].first;
                    c.in_sequence = c.insn_addr >= cs.start && c.insn_addr < cs.post_commit;
                    situation.ip = c.insn_addr;
                    for (models::RseqEvent event : model_events(plan.events[e].second)) {
                        situation.event = event;
                        models::RseqVerdict verdict = models::rseq_verdict(situation);
                        if (std::find(c.model.begin(), c.model.end(), verdict) == c.model.end()) {
                            c.model.push_back(verdict);
                        }
                    }
                    auto aborts = [](const models::RseqVerdict& v) {
                        return v.outcome == models::RseqOutcome::aborts;
                    };
                    c.expected_abort =
                        !c.model.empty() && std::all_of(c.model.begin(), c.model.end(), aborts);
                    c.may_abort = !c.expected_abort &&
                                  std::any_of(c.model.begin(), c.model.end(), aborts);
                    cells_.push_back(c);
                }
            }
        }
    }

    SweepResult run() {
        // The baseline also warms the guest's caches, so trials/s is not a
        // cold-start figure.
        const SweepConfig& config = plan_.config;
        baseline_icount_ =
            run_baseline(machine_, config.guest_program, config.args, config.budget_ms).icount;
        // Every run starts as a reproducer's replay runs its schedule: the
        // program spawned after the baseline, held at its entry. Spawned
        // once and snapshotted there, each run restores it instead of
        // spawning again (exec and the loader: most of a short run).
        held_ = machine_.spawn(config.guest_program, config.args, run_budget_ms(), RunAs::nobody,
                               Hold::program_entry);
        machine_.snapshot();
        auto started = std::chrono::steady_clock::now();
        const std::vector<SweepCell> fresh = cells_;
        std::vector<size_t> todo(trials_.size());
        std::iota(todo.begin(), todo.end(), 0);
        while (!todo.empty()) {
            size_t raised = run_batch(first_group_of(todo));
            if (uncaught_signal_event_) {
                // The run's other trials were judged on a killed program:
                // start over without the column.
                todo = skip_event(*uncaught_signal_event_, fresh);
                uncaught_signal_event_.reset();
                continue;
            }
            if (raised == 0) {
                todo = mark_unreached(todo);
                continue;
            }
            std::vector<size_t> together(todo.begin(), todo.begin() + long(raised));
            todo.erase(todo.begin(), todo.begin() + long(raised));
            if (raised > 1 && !cells_[together.front()].invariant_ok) {
                std::vector<size_t> again = attribute_failure(together);
                todo.insert(todo.begin(), again.begin(), again.end());
            }
        }
        double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (!plan_.config.repro_dir.empty()) {
            write_reproducers();
        }
        SweepResult result;
        result.cells = cells_;
        result.program_runs = runs_;
        result.notes = notes_;
        result.findings = findings_;
        result.shard = plan_.config.shard;
        result.trials_per_s = seconds > 0 ? double(result.cells.size()) / seconds : 0;
        result.identity = sweep_identity(plan_, machine_.config());
        result.kernel_reports = machine_.kernel_reports();
        return result;
    }

private:
    struct Trial {
        size_t sequence, insn, event;
        size_t group;  // the run group of its row (kRowsPerRunGroup)
    };

    // The trials of todo in the run group of its first: what one program
    // run may take.
    std::vector<size_t> first_group_of(const std::vector<size_t>& todo) const {
        const size_t group = trials_[todo.front()].group;
        auto end = std::find_if(todo.begin(), todo.end(),
                                [&](size_t t) { return trials_[t].group != group; });
        return {todo.begin(), end};
    }

    // File 0 is the program, file k the library config.libraries[k - 1].
    SweptFile swept_file(size_t file) const {
        const SweepConfig& config = plan_.config;
        return file == 0 ? SweptFile{config.host_binary, config.guest_program}
                         : config.libraries[file - 1];
    }
    std::string guest_path(size_t file) const { return swept_file(file).guest_path; }
    std::string host_path(size_t file) const { return swept_file(file).host_path; }
    std::vector<SweptFile> swept_files() const {
        std::vector<SweptFile> files;
        for (size_t file = 0; file <= plan_.config.libraries.size(); ++file) {
            files.push_back(swept_file(file));
        }
        return files;
    }

    // A trial as a schedule entry in its file's own addresses. The watch
    // tells where the thread goes next: the abort handler (aborted) or the
    // instruction itself (resumed).
    ReproEntry entry_of(size_t t) const {
        const auto& [file, cs, instructions] = plan_.sequences[trials_[t].sequence];
        const Event& event = plan_.events[trials_[t].event].second;
        std::optional<uint64_t> arg;
        if (event_kind(event.kind).takes_arg() && event.arg != FAULTLINE_ARG_DEFAULT) {
            arg = event.arg;
        }
        return {guest_path(file), instructions[trials_[t].insn].addr, plan_.config.hit,
                event.name(), arg, cs.abort};
    }

    // Every run of the sweep gets the budget of a whole run group of every
    // event (the plan's, so a shard's too). The budget reaches the guest
    // (the agent sets the program's timer by it) and moves the
    // instructions it runs: with one budget a run of some trials runs as a
    // run of more until its events fire, and a reproducer replays the lone
    // run it records exactly.
    uint32_t run_budget_ms() const {
        std::vector<Event::Kind> events;
        for (size_t row = 0; row < kRowsPerRunGroup; ++row) {
            for (const auto& event : plan_.events) {
                events.push_back(event.second.kind);
            }
        }
        return faultline::run_budget_ms(baseline_icount_, events, plan_.config.budget_ms);
    }

    // The program, held at its entry as the snapshot has it, with the
    // schedule armed, run to its end.
    ScheduledRun run_from_snapshot(const std::vector<ReproEntry>& schedule) {
        machine_.restore();
        ScheduledRun scheduled = arm_spawned(machine_, held_, swept_files(), schedule);
        run_armed(machine_, scheduled);
        return scheduled;
    }

    // One program run with the trials armed back to back; fills the cells of
    // the trials QEMU raised (a prefix: entries fire in order) and returns
    // how many it did. The first cell gets the run's outcome even unraised.
    // A cell is fired only if the guest confirmed it carried its event out.
    size_t run_batch(const std::vector<size_t>& batch) {
        const SweepConfig& config = plan_.config;
        std::vector<ReproEntry> schedule;
        for (size_t t : batch) {
            schedule.push_back(entry_of(t));
        }
        ScheduledRun scheduled = run_from_snapshot(schedule);
        ++runs_;
        const RunResult& run = scheduled.run;
        const std::vector<Firing>& firings = scheduled.firings;
        const std::vector<ReproFiring> recorded = scheduled.recorded();
        size_t raised = 0;
        for (size_t k = 0; k < batch.size(); ++k) {
            SweepCell& c = cells_[batch[k]];
            const Firing* firing = k < firings.size() ? &firings[k] : nullptr;
            c.raised = firing != nullptr;
            c.fired = firing && firing->confirmed;
            c.guest_status = firing ? firing->status : "";
            c.fired_icount = firing ? firing->icount : 0;
            c.vcpu = firing ? firing->vcpu : -1;
            c.aborted = firing ? recorded[k].aborted : std::nullopt;
            c.invariant_ok = check_passed(run);
            c.outcome = outcome_of(run);
            // The last event fired; the thread went nowhere and SIGSEGV
            // ended the program.
            c.killed_by_sigsegv = c.fired && !c.aborted && k + 1 == firings.size() &&
                                  run.signaled && run.exit_code == SIGSEGV;
            if (c.raised && !c.fired) {
                c.outcome = "the guest did not carry the event out (" +
                            (c.guest_status.empty() ? "no answer" : c.guest_status) +
                            "); the program " + c.outcome;
            } else if (c.fired && !c.aborted && !c.killed_by_sigsegv) {
                c.outcome = "unknown whether it aborted: the program " + c.outcome;
            }
            c.ok = c.fired && agrees_with_the_model(c);
            if (!c.raised) {
                break;
            }
            ++raised;
        }
        // The run ended by the very signal the last raised trial sent.
        size_t last_event = raised ? trials_[batch[raised - 1]].event : 0;
        if (raised && run.signaled && run.exit_code == config.signo &&
            event_kind(plan_.events[last_event].second.kind).arg == FAULTLINE_ARG_SIGNAL &&
            cells_[batch[raised - 1]].fired) {
            uncaught_signal_event_ = last_event;
        }
        return raised;
    }

    // The program ran to its end without reaching the first trial's
    // instruction. Until a trial fires, a run does what the run before it
    // did, so no trial there is reached, whatever its event; and if the
    // section's first instruction is not reached either, the section is
    // never entered (it is entered at its start), so none of its trials is.
    // Marks them in the trial's run group only: what a shard finds must not
    // depend on groups it does not run. Returns the trials left.
    std::vector<size_t> mark_unreached(const std::vector<size_t>& todo) {
        const Trial first = trials_[todo.front()];
        const bool never_entered = first.insn == 0 || !section_start_reached(todo.front());
        const std::string outcome =
            std::string(never_entered ? "not reached (the section was never entered)"
                                      : "not reached") +
            ": the program " + cells_[todo.front()].outcome;
        std::vector<size_t> left;
        for (size_t t : todo) {
            bool same_place = trials_[t].group == first.group &&
                              trials_[t].sequence == first.sequence &&
                              (never_entered || trials_[t].insn == first.insn);
            if (same_place) {
                cells_[t].outcome = outcome;
            } else {
                left.push_back(t);
            }
        }
        return left;
    }

    // One run with trial t's event moved to its section's first instruction:
    // whether the program gets there at all. No cell keeps its answer.
    bool section_start_reached(size_t t) {
        const auto& instructions = plan_.sequences[trials_[t].sequence].instructions;
        ReproEntry probe = entry_of(t);
        probe.addr = instructions.front().addr;
        ++runs_;
        return !run_from_snapshot({probe}).firings.empty();
    }

    // The trials still to run once event e is left out; every other cell
    // starts over from fresh.
    std::vector<size_t> skip_event(size_t e, const std::vector<SweepCell>& fresh) {
        const std::string& name = plan_.events[e].first;
        std::string why = "the program does not catch signal " +
                          std::to_string(plan_.config.signo) + ": it was killed by it";
        notes_.push_back(why + "; the " + name + " column is skipped (--signal N sends another)");
        skipped_events_.push_back(e);
        std::vector<size_t> todo;
        for (size_t t = 0; t < trials_.size(); ++t) {
            cells_[t] = fresh[t];
            if (std::find(skipped_events_.begin(), skipped_events_.end(), trials_[t].event) !=
                skipped_events_.end()) {
                cells_[t].skipped = true;
                cells_[t].outcome = "skipped: " + why;
            } else {
                todo.push_back(t);
            }
        }
        return todo;
    }

    // A run with several trials broke the program's invariant. First the
    // trials whose thread did not do what the model says run alone: those
    // wrong there too are wrong on their own, and the others return to run
    // together again without them, so a run per trial is spent only on what
    // fails (each such pass leaves at least one trial out, so it ends).
    // Else every trial runs alone (each run starts from the sweep's
    // snapshot). If none breaks it alone, the failure needs several of them
    // together: delta debugging finds a set none of which can be left out,
    // which is one finding. Every cell keeps the verdict of its lone run (a
    // finding's cells say which finding they are in), so only what is wrong
    // on its own fails. A failure that does not come back in a run of the
    // same trials stays on every trial of the run, so it is never lost.
    std::vector<size_t> attribute_failure(const std::vector<size_t>& together) {
        std::vector<SweepCell> batch_cells;
        for (size_t t : together) {
            batch_cells.push_back(cells_[t]);
        }
        std::vector<size_t> again, not_alone;
        for (size_t t : together) {
            if (wrong_on_its_own(cells_[t])) {
                run_batch({t});
                if (cells_[t].raised && !cells_[t].ok) {
                    continue;
                }
            } else {
                not_alone.push_back(t);
            }
            again.push_back(t);
        }
        if (again.size() < together.size()) {
            return again;
        }
        for (size_t t : not_alone) {
            run_batch({t});
        }
        if (std::any_of(together.begin(), together.end(),
                        [&](size_t t) { return cells_[t].raised && !cells_[t].ok; })) {
            return {};
        }
        const std::vector<SweepCell> alone = cells_;
        size_t tests = 0;
        std::string broken_outcome;  // of the last set that broke it: ddmin's answer
        auto breaks = [&](const std::vector<size_t>& trials) {
            ++tests;
            run_batch(trials);
            bool broke = !cells_[trials.front()].invariant_ok;
            if (broke) {
                broken_outcome = cells_[trials.front()].outcome;
            }
            cells_ = alone;
            return broke;
        };
        if (!breaks(together)) {
            for (size_t k = 0; k < together.size(); ++k) {
                cells_[together[k]] = batch_cells[k];
                cells_[together[k]].outcome +=
                    " with " + std::to_string(together.size()) +
                    " trials in one run; none breaks it alone, and together they do not break "
                    "it again";
            }
            return {};
        }
        std::vector<size_t> minimal = ddmin(together, breaks);
        std::string members;
        for (size_t t : minimal) {
            members += (members.empty() ? "" : ", ") + cells_[t].event + " before " +
                       hex(cells_[t].insn_addr);
        }
        findings_.push_back({minimal, broken_outcome, tests});
        for (size_t t : minimal) {
            cells_[t].outcome += finding_mention(findings_.size()) + "with " + members +
                                 " in one run the program " + broken_outcome;
        }
        return {};
    }

    // One reproducer per finding: each set of trials that broke the check
    // only together, and each other failing cell alone; its cells get its path.
    void write_reproducers() {
        const SweepConfig& config = plan_.config;
        Reproducer setup;
        setup.take_machine(machine_.config());
        for (const auto& file : swept_files()) {
            setup.files.push_back({file.guest_path, file.host_path, "", config.files_put});
        }
        setup.take_uploads(config.uploads);
        setup.args = config.args;
        setup.baseline_runs = 1;
        setup.baseline_budget_ms = config.budget_ms;
        auto write = [&](const std::vector<size_t>& trials, const std::string& finding) {
            setup.budget_ms = run_budget_ms();
            std::vector<ReproEntry> schedule;
            for (size_t t : trials) {
                schedule.push_back(entry_of(t));
            }
            std::string path = write_reproducer(
                config.repro_dir,
                record_reproducer(setup, schedule, finding, run_from_snapshot(schedule)));
            for (size_t t : trials) {
                cells_[t].reproducer = path;
            }
        };
        for (const auto& finding : findings_) {
            write(finding.cells, std::to_string(finding.cells.size()) +
                                     " trials in one run break the program's check, none alone "
                                     "and none can be left out: " + describe(finding.cells.front()));
        }
        for (size_t t = 0; t < cells_.size(); ++t) {
            if (cells_[t].raised && !cells_[t].ok && cells_[t].reproducer.empty()) {
                write({t}, describe(t));
            }
        }
    }

    std::string describe(size_t t) const {
        const SweepCell& c = cells_[t];
        std::ostringstream out;
        out << c.event << " before 0x" << std::hex << c.insn_addr << " (" << c.insn_text
            << ") in " << c.file << ", sequence at 0x" << c.cs << ": ";
        if (!c.aborted) {
            out << "unknown whether it aborted";
        } else {
            out << (*c.aborted ? "aborted" : "did not abort")
                << (c.expected_abort ? ", must abort" : c.may_abort ? ", may abort" : ", must not abort");
        }
        out << "; the program " << c.outcome;
        return out.str();
    }

    Machine& machine_;
    const SweepPlan& plan_;
    std::vector<Trial> trials_;
    std::vector<SweepCell> cells_;
    size_t runs_ = 0;
    std::optional<size_t> uncaught_signal_event_;
    std::vector<size_t> skipped_events_;
    std::vector<std::string> notes_ = plan_.notes;
    std::vector<SweepFinding> findings_;
    uint64_t baseline_icount_ = 0;
    Process held_;  // the program as every run starts it
};

}  // namespace

RunResult run_baseline(Machine& machine, const std::string& program,
                       const std::vector<std::string>& args, uint32_t budget_ms) {
    RunResult run = machine.run(program, args, budget_ms);
    if (!run.timed_out && !check_passed(run)) {
        throw ConfigError(program + " fails without any event: it " + outcome_of(run) +
                          "; its own check cannot judge the events\n" + run.stdout_text +
                          run.stderr_text);
    }
    return run;
}

std::string finding_mention(size_t number) {
    return "; finding " + std::to_string(number) + ": ";
}

std::optional<models::RseqOutcome> SweepCell::observed() const {
    if (aborted) {
        return *aborted ? models::RseqOutcome::aborts : models::RseqOutcome::resumes;
    }
    if (killed_by_sigsegv) {
        return models::RseqOutcome::sigsegv;
    }
    return std::nullopt;
}

size_t SweepResult::failed() const {
    return size_t(std::count_if(cells.begin(), cells.end(),
                                [](const SweepCell& c) { return c.raised && !c.ok; }));
}

size_t SweepResult::reached() const {
    return size_t(
        std::count_if(cells.begin(), cells.end(), [](const SweepCell& c) { return c.raised; }));
}

SweepResult run_sweep(Machine& machine, const SweepPlan& plan) {
    return Sweeper(machine, plan).run();
}

nlohmann::json machine_identity(const MachineConfig& machine) {
    return {{"qemu_sha256", sha256_of_file(machine.qemu)},
            {"kernel_sha256", sha256_of_file(machine.kernel)},
            {"initrd_sha256", sha256_of_file(machine.initrd)},
            {"cpus", machine.cpus},
            {"memory_mib", machine.memory_mib},
            {"kernel_args", machine.kernel_args},
            {"precise_xinuse", machine.precise_xinuse}};
}

nlohmann::json file_identity(const std::string& guest_path, const std::string& host_path) {
    return {{"path", guest_path}, {"sha256", sha256_of_file(host_path)}};
}

nlohmann::json uploads_identity(const std::vector<Upload>& uploads) {
    nlohmann::json identities = nlohmann::json::array();
    for (const auto& upload : uploads) {
        identities.push_back(file_identity(upload.guest_path, upload.host_path));
    }
    return identities;
}

nlohmann::json sweep_identity(const SweepPlan& plan, const MachineConfig& machine) {
    const SweepConfig& config = plan.config;
    nlohmann::json libraries = nlohmann::json::array();
    for (const auto& library : config.libraries) {
        libraries.push_back(file_identity(library.guest_path, library.host_path));
    }
    nlohmann::json events = nlohmann::json::array();
    for (const auto& event : plan.events) {
        events.push_back(event.first);
    }
    return {{"program", file_identity(config.guest_program, config.host_binary)},
            {"args", config.args},
            {"libraries", libraries},
            {"uploads", uploads_identity(config.uploads)},
            {"events", events},
            {"hit", config.hit},
            {"signal", config.signo},
            {"budget_ms", config.budget_ms},
            {"rseq_signature", config.rseq_signature},
            {"machine", machine_identity(machine)}};
}

}  // namespace faultline
