// The kernel sweep: planning from vmlinux, trials run a run group at a
// time, each judged by models::PksInterruptRule; its table and JSON.
#include "faultline/campaign/kernel_sweep.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "faultline/campaign/ddmin.hpp"
#include "faultline/campaign/findings.hpp"
#include "faultline/campaign/optional_json.hpp"
#include "faultline/campaign/replay.hpp"
#include "faultline/campaign/report_text.hpp"
#include "faultline/campaign/reproducer.hpp"
#include "faultline/machine/console.hpp"
#include "faultline/machine/errors.hpp"
#include "faultline/machine/files.hpp"
#include "faultline/program/elf.hpp"

namespace faultline {

namespace {

// "preempt before f+0x4 (pushq %rbx)": a trial, as reports name it.
std::string trial_text(const KernelSweepCell& c) {
    return c.event + " before " + c.where() + " (" + c.insn_text + ")";
}

// Levenshtein distance, for naming the functions nearest a mistyped one.
size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string nearest_names(const std::vector<FunctionSymbol>& symbols, const std::string& name) {
    std::vector<std::pair<size_t, std::string>> ranked;
    for (const auto& f : symbols) {
        // A name that holds the one asked for is as near as a typo.
        size_t distance = f.name.find(name) != std::string::npos ? 1 : edit_distance(f.name, name);
        ranked.emplace_back(distance, f.name);
    }
    std::sort(ranked.begin(), ranked.end());
    ranked.erase(std::unique(ranked.begin(), ranked.end()), ranked.end());
    std::string text;
    for (size_t k = 0; k < ranked.size() && k < 5; ++k) {
        text += (text.empty() ? "" : ", ") + ranked[k].second;
    }
    return text;
}

// A kernel report as it reads on any run: the CPU and PID that printed it,
// and addresses, vary with where it came from, not with what it says.
std::string report_gist(const std::string& line) {
    static const std::regex where("CPU: [0-9]+ PID: [0-9]+ |\\[#[0-9]+\\] ");
    static const std::regex address("[0-9a-f]{12,16}");
    return std::regex_replace(std::regex_replace(line, where, ""), address, "ADDR");
}

// The reports of a trial beyond what the workload prints on its own (its
// baseline's, each as often as there): a workload may test the kernel's
// reports themselves (pks-selftest's relaxed-mode warnings and strict-mode
// Oops).
std::vector<std::string> reports_beyond(const std::vector<std::string>& reports,
                                        const std::vector<std::string>& baseline) {
    std::multiset<std::string> expected;
    for (const auto& line : baseline) {
        expected.insert(report_gist(line));
    }
    std::vector<std::string> beyond;
    for (const auto& line : reports) {
        auto it = expected.find(report_gist(line));
        if (it == expected.end()) {
            beyond.push_back(line);
        } else {
            expected.erase(it);
        }
    }
    return beyond;
}

models::KernelEvent model_event(Event::Kind kind) {
    switch (kind) {
    case Event::Kind::irq: return models::KernelEvent::irq;
    case Event::Kind::nmi: return models::KernelEvent::nmi;
    default: return models::KernelEvent::preempt;
    }
}

}  // namespace

KernelSweepPlan plan_kernel_sweep(const KernelSweepConfig& config) {
    if (!std::filesystem::is_regular_file(config.vmlinux)) {
        throw ConfigError("vmlinux not found: " + config.vmlinux +
                          " (the kernel sweep reads the guest kernel's symbols from it)");
    }
    if (config.functions.empty()) {
        throw ConfigError("no kernel function to sweep");
    }
    std::vector<FunctionSymbol> symbols = function_symbols(config.vmlinux);
    if (symbols.empty()) {
        throw ConfigError(config.vmlinux + ": no function symbols (a stripped kernel): the "
                          "kernel sweep needs vmlinux as the kernel build leaves it");
    }
    KernelSweepPlan plan{config, {}, {}, 0};
    for (const auto& name : config.functions) {
        size_t before = plan.functions.size();
        for (const auto& f : symbols) {
            if (f.name == name) {
                plan.functions.push_back(
                    {f.name, f.addr, f.size,
                     instructions_in(config.vmlinux, f.addr, f.addr + f.size)});
            }
        }
        if (plan.functions.size() == before) {
            throw ConfigError("no function '" + name + "' in " + config.vmlinux +
                              " (nearest: " + nearest_names(symbols, name) + ")");
        }
    }
    for (const auto& name : config.events) {
        const EventKind& kind = event_kind_named(name);
        if (!kind.kernel_swept()) {
            throw ConfigError("event '" + name + "' cannot fire at a kernel instruction (" +
                              kernel_event_list() + ")");
        }
        plan.events.emplace_back(name, Event{kind.kind, 0});
    }
    try {
        plan.pkrs_cache_offset = symbol_address(config.vmlinux, config.pkrs_cache_symbol);
    } catch (const ConfigError&) {
        plan.pkrs_cache_offset = 0;
    }
    return plan;
}

std::string KernelSweepCell::where() const {
    char text[24];
    std::snprintf(text, sizeof text, "+0x%llx", (unsigned long long)offset);
    return function + text;
}

size_t KernelSweepResult::reached() const {
    return size_t(std::count_if(cells.begin(), cells.end(),
                                [](const KernelSweepCell& c) { return c.raised; }));
}

size_t KernelSweepResult::failed() const {
    return size_t(std::count_if(cells.begin(), cells.end(),
                                [](const KernelSweepCell& c) { return c.raised && !c.ok; }));
}

namespace {

class KernelSweeper {
public:
    KernelSweeper(Machine& machine, const KernelSweepPlan& plan) : machine_(machine), plan_(plan) {
        const KernelSweepConfig& config = plan_.config;
        std::vector<std::pair<const KernelFunction*, const Instruction*>> rows;
        for (const auto& f : plan_.functions) {
            for (const auto& insn : f.instructions) {
                rows.emplace_back(&f, &insn);
            }
        }
        // A shard takes whole run groups, so each trial runs with the same
        // others as in the unsharded sweep.
        const auto [first_row, end_row] = shard_rows(config.shard, rows.size());
        const size_t events = plan_.events.size();
        for (size_t row = first_row; row < end_row; ++row) {
            const auto& [f, insn] = rows[row];
            for (const auto& [name, event] : plan_.events) {
                KernelSweepCell c;
                c.function = f->name;
                c.insn_addr = insn->addr;
                c.offset = insn->addr - f->addr;
                c.insn_text = insn->text;
                c.event = name;
                result_.cells.push_back(c);
            }
        }
        // A group's trials event by event: one call of a function then
        // takes an event at each of its instructions in turn.
        for (size_t group_start = first_row; group_start < end_row;
             group_start += kRowsPerRunGroup) {
            const size_t group_end = std::min(end_row, group_start + kRowsPerRunGroup);
            for (size_t e = 0; e < events; ++e) {
                for (size_t row = group_start; row < group_end; ++row) {
                    trials_.push_back({row - first_row, e, false});
                }
            }
        }
        fresh_cells_ = result_.cells;
    }

    KernelSweepResult run() {
        const KernelSweepConfig& config = plan_.config;
        if (plan_.pkrs_cache_offset == 0) {
            result_.notes.push_back(config.vmlinux + " has no " + config.pkrs_cache_symbol +
                                    ": the cache-agrees check is left out");
        }
        prepare();
        auto started = std::chrono::steady_clock::now();
        std::vector<size_t> todo(trials_.size());
        std::iota(todo.begin(), todo.end(), 0);
        while (!todo.empty()) {
            std::vector<size_t> batch = next_batch(todo);
            std::optional<BatchRun> ran = run_batch(batch);
            if (!ran) {
                failed_runs_.push_back(batch);  // it panicked
                continue;
            }
            const size_t raised = ran->judged;
            if (raised == 0) {
                todo = mark_unreached(todo);
                continue;
            }
            todo.erase(todo.begin(), todo.begin() + long(raised));
            // Its first trial too: the events after it fired in its run.
            if (batch.size() > 1 && !batch_passed(batch, raised)) {
                // Again, alone, and its lone run's verdict is its cell's:
                // a trial whose own firing failed a check, or every trial
                // of a run whose workload failed or whose kernel reported
                // (which trial did that, the run cannot tell).
                const KernelSweepCell& first = cell(batch.front());
                const bool run_ok = first.program_ok && first.kernel_reports.empty();
                for (size_t k = raised; k-- > 0;) {
                    if (!run_ok || !cell(batch[k]).ok) {
                        trials_[batch[k]].alone = true;
                        todo.insert(todo.begin(), batch[k]);
                    }
                }
                failed_runs_.emplace_back(batch.begin(), batch.begin() + long(ran->fired));
            }
        }
        for (const auto& together : failed_runs_) {
            find_what_fails_only_together(together);
        }
        double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        result_.shard = config.shard;
        result_.identity = kernel_sweep_identity(plan_, machine_.config());
        result_.trials_per_s = seconds > 0 ? double(result_.cells.size()) / seconds : 0;
        return result_;
    }

private:
    struct Trial {
        size_t row;    // of this sweep (or shard), which starts a run group
        size_t event;  // in plan_.events
        bool alone;    // its batch failed: it runs by itself
    };

    // result_.cells holds the cells row by row, event by event.
    size_t cell_index(size_t t) const {
        return trials_[t].row * plan_.events.size() + trials_[t].event;
    }
    KernelSweepCell& cell(size_t t) { return result_.cells[cell_index(t)]; }
    size_t group(size_t t) const { return trials_[t].row / kRowsPerRunGroup; }
    // A cell judged in a batch that failed is judged again by its lone run.
    void clear_verdict(size_t t) {
        cell(t) = fresh_cells_[cell_index(t)];
    }

    // The files, the baseline, and the snapshot every run starts from: the
    // workload spawned and held at its entry (a spawn is most of a short
    // workload's run: exec, and the loader for a dynamic one).
    void prepare() {
        const KernelSweepConfig& config = plan_.config;
        // In the order a reproducer's replay puts them (prepare_replay).
        if (config.program_put) {
            machine_.put_file(config.host_program, config.guest_program, 0755);
        }
        for (const auto& upload : config.uploads) {
            machine_.put_file(upload.host_path, upload.guest_path, upload.mode);
        }
        size_t console_before = machine_.console().size();
        RunResult baseline =
            machine_.run(config.guest_program, config.args, config.budget_ms, config.user);
        if (!check_passed(baseline)) {
            throw ConfigError("the workload fails without any event: " + config.guest_program +
                              " " + outcome_of(baseline) + "\n" + baseline.stdout_text +
                              baseline.stderr_text);
        }
        baseline_reports_ = reports_since(console_before);
        // The whole budget, not a multiple of the baseline's instructions: a
        // workload that sleeps (pks-selftest's cases wait for kthreads)
        // spends guest time those do not count.
        held_ = machine_.spawn(config.guest_program, config.args, config.budget_ms, config.user,
                               Hold::program_entry);
        machine_.snapshot();
    }

    // What one run takes: the trials of todo in the run group of its first,
    // in order; one alone when its batch failed. An entry's hit counts
    // from the previous entry's firing, so with hit > 1 each trial runs
    // alone: the hit-th execution counted from the program's start.
    std::vector<size_t> next_batch(const std::vector<size_t>& todo) const {
        const Trial& first = trials_[todo.front()];
        if (first.alone || plan_.config.hit != 1) {
            return {todo.front()};
        }
        std::vector<size_t> batch;
        for (size_t t : todo) {
            if (group(t) != group(todo.front()) || trials_[t].alone) {
                break;
            }
            batch.push_back(t);
        }
        return batch;
    }

    ScheduleEntry entry_of(size_t t) const {
        const KernelSweepConfig& config = plan_.config;
        const KernelSweepCell& c = result_.cells[cell_index(t)];
        const Event& event = plan_.events[trials_[t].event].second;
        Trigger trigger{c.insn_addr, config.every_address_space ? 0 : held_.cr3, config.hit,
                        true};
        return {trigger, event, 0, plan_.pkrs_cache_offset};
    }

    // What a run of a batch did: the trials it judged, a prefix, and those
    // that fired, among which a failing run's finding is sought.
    struct BatchRun {
        size_t judged, fired;
    };

    // One run of the held workload with the batch's trials armed back to
    // back (each after the one before fired); judges the cells of those
    // that fired, a prefix, and says how many. Until its first
    // trigger fires, a run does what the baseline did, so the first trial
    // of a batch meets its instruction as it would alone.
    // A panic in a batch leaves nothing judged (nullopt) and its trials to
    // run alone; a lone trial that panics fails its cell.
    std::optional<BatchRun> run_batch(const std::vector<size_t>& batch) {
        ScheduledRun scheduled;
        std::vector<std::string> reports;
        try {
            scheduled = run_trials(batch, reports);
        } catch (const GuestPanic& panic) {
            if (batch.size() > 1) {
                for (size_t t : batch) {
                    trials_[t].alone = true;
                }
                return std::nullopt;
            }
            KernelSweepCell& c = cell(batch.front());
            c.raised = true;
            c.kernel_reports = kernel_reports(panic.what());
            c.outcome = "the guest kernel panicked";
            c.situation.kernel_reports = unsigned(std::max<size_t>(c.kernel_reports.size(), 1));
            c.verdict.failed.push_back(models::PksCheck::no_kernel_report);
            return BatchRun{1, 1};
        }
        ++result_.program_runs;
        const RunResult& run = scheduled.run;
        const std::vector<Firing>& firings = scheduled.firings;
        const size_t fired = std::min(firings.size(), batch.size());
        for (size_t k = 0; k < batch.size(); ++k) {
            clear_verdict(batch[k]);
            KernelSweepCell& c = cell(batch[k]);
            c.kernel_reports = reports;
            c.program_ok = check_passed(run);
            if (k >= firings.size()) {
                c.outcome = "not reached: the program " + outcome_of(run);
                break;
            }
            judge(c, plan_.events[trials_[batch[k]].event].second, firings[k], run);
            if (k + 1 < batch.size() && c.verdict.taken && left_a_trace(firings[k])) {
                return BatchRun{k + 1, fired};
            }
            if (!c.ok && batch.size() == 1 && writes_reproducers()) {
                c.reproducer = write_reproducer(
                    plan_.config.repro_dir,
                    reproducer_of(batch, scheduled, trial_text(c) + ": " + c.outcome));
            }
        }
        return BatchRun{fired, fired};
    }

    // The held workload run from the snapshot with these trials armed back
    // to back; reports: the kernel's beyond the baseline's. A panic boots
    // the machine again (the snapshot went with it) and is thrown on. The
    // caller counts the run in program_runs if it judges by it (not the
    // run that records a finding's reproducer: a report is the same with
    // reproducers and without).
    ScheduledRun run_trials(const std::vector<size_t>& trials, std::vector<std::string>& reports) {
        ScheduledRun scheduled;
        scheduled.process = held_;
        for (size_t t : trials) {
            scheduled.armed.push_back(entry_of(t));
        }
        machine_.restore();
        size_t console_before = machine_.console().size();
        try {
            machine_.arm(scheduled.armed);
            scheduled.run = machine_.run_spawned();
            scheduled.firings = machine_.firings();
        } catch (const GuestPanic&) {
            machine_.shutdown();
            machine_.boot();
            prepare();
            throw;
        }
        reports = reports_beyond(reports_since(console_before), baseline_reports_);
        return scheduled;
    }

    bool writes_reproducers() const {
        return !plan_.config.repro_dir.empty() && !plan_.config.host_program.empty();
    }

    // How a run of just these trials failed, if it did: the workload's
    // check, a kernel report the baseline did not have, a panic, or a
    // firing the model faults; as the words after "the program".
    std::optional<std::string> failure_of(const std::vector<size_t>& trials) {
        ScheduledRun scheduled;
        std::vector<std::string> reports;
        try {
            scheduled = run_trials(trials, reports);
        } catch (const GuestPanic&) {
            return "panicked the kernel";
        }
        ++result_.program_runs;
        const RunResult& run = scheduled.run;
        std::string failure = outcome_of(run);
        if (!reports.empty()) {
            return failure + ", and the kernel reported: " + reports.front();
        }
        for (size_t k = 0; k < std::min(trials.size(), scheduled.firings.size()); ++k) {
            KernelSweepCell probe = fresh_cells_[cell_index(trials[k])];
            probe.program_ok = check_passed(run);
            judge(probe, plan_.events[trials_[trials[k]].event].second, scheduled.firings[k], run);
            if (!probe.verdict.passed()) {
                return failure + ", and " + probe.event + " before " + probe.where() + ": " +
                       models::to_string(probe.verdict);
            }
        }
        if (!check_passed(run)) {
            return failure;
        }
        return std::nullopt;
    }

    // A run of several trials failed, and none of them fails alone (each
    // cell keeps the verdict of its lone run): the failure needs several
    // together. Delta debugging finds a set none of which can be left out,
    // one finding; a failure that does not come back when the same trials
    // run again stays said on their cells, so nothing is lost.
    void find_what_fails_only_together(const std::vector<size_t>& together) {
        if (std::any_of(together.begin(), together.end(),
                        [&](size_t t) { return cell(t).raised && !cell(t).ok; })) {
            return;
        }
        size_t tests = 0;
        std::string broken;  // how the last set that failed did: ddmin's answer
        auto fails = [&](const std::vector<size_t>& trials) {
            ++tests;
            std::optional<std::string> failure = failure_of(trials);
            if (failure) {
                broken = *failure;
            }
            return failure.has_value();
        };
        if (!fails(together)) {
            for (size_t t : together) {
                cell(t).outcome += "; with " + std::to_string(together.size()) +
                                   " trials in one run the run failed, none fails alone, and "
                                   "together they do not fail again";
            }
            return;
        }
        const std::vector<size_t> minimal = ddmin(together, fails);
        SweepFinding finding{{}, broken, tests};
        std::string members;
        for (size_t t : minimal) {
            finding.cells.push_back(cell_index(t));
            members += (members.empty() ? "" : ", ") + cell(t).event + " before " + cell(t).where();
        }
        result_.findings.push_back(finding);
        std::string reproducer;
        if (writes_reproducers()) {
            std::vector<std::string> reports;
            reproducer = write_reproducer(
                plan_.config.repro_dir,
                reproducer_of(minimal, run_trials(minimal, reports),
                              std::to_string(minimal.size()) +
                                  " trials in one run fail, none alone and none can be left "
                                  "out: " + members + "; the program " + broken));
        }
        for (size_t t : minimal) {
            KernelSweepCell& c = cell(t);
            c.outcome += finding_mention(result_.findings.size()) + "with " + members +
                         " in one run the program " + broken;
            c.reproducer = reproducer;
        }
    }
    // The context that took the event did not get back what it had: its
    // IA32_PKRS or the per-CPU cache changed (inside pkrs_write(), where
    // the cache already holds the value being written, the return gives
    // that), it went on on another vCPU, or it has not gone on. The next
    // trial would meet its instruction in a state no lone run has: it goes
    // to the next run, which it starts. (An event not taken there is
    // taken later, as any device's interrupt.)
    static bool left_a_trace(const Firing& f) {
        return !f.next_vcpu || *f.next_vcpu != f.vcpu || f.next_pkrs != f.pkrs ||
               f.next_percpu != f.percpu;
    }

    // The cell of a trial that fired, judged by the model from QEMU's
    // record of the firing and by the run's outcome.
    void judge(KernelSweepCell& c, const Event& event, const Firing& firing,
               const RunResult& run) const {
        c.raised = true;
        c.guest_status = firing.status;
        c.fired_icount = firing.icount;
        c.vcpu = firing.vcpu;
        models::PksInterruptSituation& s = c.situation;
        s.event = model_event(event.kind);
        s.default_pkrs = plan_.config.default_pkrs;
        s.interrupted_pkrs = firing.pkrs;
        s.interrupted_cache = firing.percpu;
        s.interrupts_enabled = firing.interrupts_enabled;
        s.preemptible = firing.status != "preemption-off";
        s.handler_pkrs = firing.handler_pkrs;
        s.returned = firing.next_vcpu.has_value();
        s.return_pkrs = firing.next_pkrs;
        s.return_cache = s.returned ? firing.next_percpu : std::nullopt;
        s.kernel_reports = unsigned(c.kernel_reports.size());
        c.verdict = models::pks_interrupt_verdict(s);
        c.ok = c.verdict.passed() && c.program_ok;
        c.outcome = models::to_string(c.verdict) + "; the program " + outcome_of(run);
    }

    bool batch_passed(const std::vector<size_t>& batch, size_t raised) {
        return std::all_of(batch.begin(), batch.begin() + long(raised),
                           [&](size_t t) { return cell(t).ok; });
    }

    // The workload ran to its end without reaching the first trial's
    // instruction: as the baseline did, whatever the event, so none of
    // that row's trials is reached. Returns the trials left.
    std::vector<size_t> mark_unreached(const std::vector<size_t>& todo) {
        const size_t row = trials_[todo.front()].row;
        const KernelSweepCell first = cell(todo.front());
        std::vector<size_t> left;
        for (size_t t : todo) {
            if (trials_[t].row != row) {
                left.push_back(t);
                continue;
            }
            clear_verdict(t);
            KernelSweepCell& c = cell(t);
            c.outcome = first.outcome;
            c.program_ok = first.program_ok;
            c.kernel_reports = first.kernel_reports;
        }
        return left;
    }

    // The trial as a reproducer: the machine, the program and files as
    // prepare() put them, its baseline, and the run from the held program.
    Reproducer reproducer_of(const std::vector<size_t>& trials, const ScheduledRun& scheduled,
                             const std::string& finding) const {
        const KernelSweepConfig& config = plan_.config;
        Reproducer r;
        r.take_machine(machine_.config());
        r.files.push_back({config.guest_program, config.host_program, "", config.program_put});
        r.take_uploads(config.uploads);
        r.args = config.args;
        r.user = config.user;
        r.baseline_runs = 1;
        r.baseline_budget_ms = config.budget_ms;
        r.budget_ms = config.budget_ms;
        for (size_t t : trials) {
            const KernelSweepCell& c = result_.cells[cell_index(t)];
            ReproEntry entry;
            entry.addr = c.insn_addr;
            entry.hit = config.hit;
            entry.event = c.event;
            entry.kernel = true;
            entry.every_address_space = config.every_address_space;
            entry.percpu = plan_.pkrs_cache_offset;
            r.schedule.push_back(entry);
        }
        r.firings = scheduled.recorded();
        r.outcome = ReproOutcome::of(scheduled.run);
        r.finding = finding;
        return r;
    }

    std::vector<std::string> reports_since(size_t console_offset) const {
        std::string console = machine_.console();
        return kernel_reports(
            std::string_view(console).substr(std::min(console_offset, console.size())));
    }

    Machine& machine_;
    const KernelSweepPlan& plan_;
    KernelSweepResult result_;
    std::vector<Trial> trials_;
    std::vector<KernelSweepCell> fresh_cells_;  // as the constructor made them
    std::vector<std::string> baseline_reports_;
    Process held_;  // the workload in the snapshot, held at its entry
    // Each batch that failed: the trials that fired in its run.
    std::vector<std::vector<size_t>> failed_runs_;
};

// One letter per cell, as the rseq sweep's picture: what the model made of it.
char mark(const KernelSweepCell& c) {
    if (!c.raised) {
        return '.';
    }
    if (!c.ok) {
        return 'X';
    }
    return c.verdict.taken ? 'o' : '-';
}

}  // namespace

KernelSweepResult run_kernel_sweep(Machine& machine, const KernelSweepPlan& plan) {
    return KernelSweeper(machine, plan).run();
}

namespace {

// What a finding's trials do.
constexpr const char* kTogether = "fail together";

// Why a failing cell failed: the outcome, and the PKRS values the checks
// were given when the event was taken.
std::string failure_text(const KernelSweepCell& c) {
    std::ostringstream out;
    out << c.outcome;
    if (c.verdict.taken && !c.verdict.passed()) {
        out << " (interrupted with PKRS " << hex(c.situation.interrupted_pkrs) << ", handler "
            << (c.situation.handler_pkrs ? hex(*c.situation.handler_pkrs)
                                         : std::string("no report"))
            << ", returned with " << hex(c.situation.return_pkrs) << ", cache "
            << (c.situation.return_cache ? hex(*c.situation.return_cache) : std::string("unread"))
            << ")";
    }
    return out.str();
}

}  // namespace

std::string kernel_sweep_table(const KernelSweepResult& result,
                               const std::vector<std::string>& events) {
    constexpr size_t kColumn = 8;  // an event's column
    constexpr int kInsnWidth = 32;
    std::ostringstream out;
    out << "kernel sweep: " << result.cells.size() << " cells, " << result.reached()
        << " reached, " << result.failed() << " failed";
    if (!result.findings.empty()) {
        out << ", " << result.findings.size() << " findings";
    }
    // A result read back from reports (merge) measured no rate.
    if (result.trials_per_s > 0) {
        char rate[32];
        std::snprintf(rate, sizeof rate, "%.1f", result.trials_per_s);
        out << " (" << rate << " trials/s)";
    }
    out << "\n";
    size_t where_width = 5;
    for (const auto& c : result.cells) {
        where_width = std::max(where_width, c.where().size());
    }
    char label[256];
    std::snprintf(label, sizeof label, "%-*s  %-*s", int(where_width), "where", kInsnWidth,
                  "instruction");
    // An event's column: its name, or the mark under it, padded alike.
    auto column = [&](const std::string& text, size_t e) {
        return ' ' + text + std::string(std::max(events[e].size(), kColumn) - text.size(), ' ');
    };
    std::string header = label;
    for (size_t e = 0; e < events.size(); ++e) {
        header += column(events[e], e);
    }
    out << header.substr(0, header.find_last_not_of(' ') + 1) << '\n';
    size_t per_row = events.empty() ? 1 : events.size();
    for (size_t k = 0; k + per_row <= result.cells.size(); k += per_row) {
        const KernelSweepCell& first = result.cells[k];
        std::snprintf(label, sizeof label, "%-*s  %-*.*s", int(where_width),
                      first.where().c_str(), kInsnWidth, kInsnWidth, first.insn_text.c_str());
        std::string row = label;
        for (size_t e = 0; e < per_row; ++e) {
            row += column(std::string(1, mark(result.cells[k + e])), e);
        }
        out << row.substr(0, row.find_last_not_of(' ') + 1) << '\n';
    }
    out << "o taken, every check passed   - not taken there (interrupts or preemption off)   "
           "X failed   . not reached\n";
    for (const auto& c : result.cells) {
        if (c.raised && !c.ok) {
            out << "FAIL " << c.where() << " " << c.insn_text << " [" << c.event
                << "]: " << failure_text(c);
            for (const auto& report : c.kernel_reports) {
                out << "\n    kernel: " << report;
            }
            out << '\n';
        }
    }
    out << findings_text(result.findings, kTogether,
                         [&](size_t cell) { return trial_text(result.cells[cell]); });
    for (const auto& note : result.notes) {
        out << "note: " << note << '\n';
    }
    return out.str();
}

namespace {

// Colour and label of a cell, as the table's mark says it: green taken with
// every check passed, grey not taken there, red failed, blue not reached.
std::pair<const char*, std::string> kernel_cell_verdict(const KernelSweepCell& c) {
    if (!c.raised) {
        return {"#c8d4ec", "not reached"};
    }
    if (!c.ok) {
        std::string checks;
        for (models::PksCheck check : c.verdict.failed) {
            checks += (checks.empty() ? "" : " ") + std::string(models::pks_check_name(check));
        }
        return {"#e05050", "FAIL" + (checks.empty() ? "" : " " + checks) + ": " +
                               failure_text(c)};
    }
    if (!c.verdict.taken) {
        return {"#d8d8d8", std::string("not taken: ") + c.verdict.not_taken_because};
    }
    return {"#3aa856", "taken"};
}

// What QEMU recorded around the event, for a cell's tooltip.
std::string recorded_text(const KernelSweepCell& c) {
    const models::PksInterruptSituation& s = c.situation;
    std::string text = "icount " + std::to_string(c.fired_icount) + ", vCPU " +
                       std::to_string(c.vcpu) + ", interrupted with PKRS " +
                       hex(s.interrupted_pkrs);
    if (s.handler_pkrs) {
        text += ", handler " + hex(*s.handler_pkrs);
    }
    if (s.returned) {
        text += ", returned with " + hex(s.return_pkrs);
    }
    if (s.return_cache) {
        text += ", cache " + hex(*s.return_cache);
    }
    return text;
}

}  // namespace

std::string kernel_sweep_html(const KernelSweepResult& result, const std::string& title) {
    std::vector<std::string> events;
    for (const auto& c : result.cells) {
        if (std::find(events.begin(), events.end(), c.event) == events.end()) {
            events.push_back(c.event);
        }
    }
    std::ostringstream h;
    h << html_page_start(title, "tr.fn td{background:#eee;font-weight:bold}")
      << "<p>" << result.cells.size() << " cells, " << result.reached() << " reached, "
      << result.failed() << " failed, " << result.findings.size() << " findings, in "
      << result.program_runs << " program runs. "
      << "Each cell is an event fired before the instruction while the workload ran, judged "
      << "by models/PksInterruptRule. Green: taken, and every check passed (the handler ran "
      << "with the default IA32_PKRS, the interrupted context got its own back with the "
      << "per-CPU cache agreeing, no kernel report, the workload's check held); grey: not "
      << "taken there (interrupts or preemption off), a verdict; red: a check failed; blue: "
      << "the workload never reached the instruction, no verdict. A cell's tooltip has what "
      << "QEMU recorded.</p><table><tr><th>where</th><th>instruction</th>";
    for (const auto& e : events) {
        h << "<th>" << html_escape(e) << "</th>";
    }
    h << "</tr>";
    const auto findings_of = findings_by_cell(result.findings, result.cells.size());
    const size_t per_row = std::max<size_t>(events.size(), 1);
    for (size_t k = 0; k + per_row <= result.cells.size(); k += per_row) {
        const KernelSweepCell& first = result.cells[k];
        if (k == 0 || first.function != result.cells[k - 1].function ||
            first.offset < result.cells[k - 1].offset) {
            h << "<tr class=\"fn\"><td colspan=\"" << events.size() + 2 << "\">"
              << html_escape(first.function) << " at " << hex(first.insn_addr - first.offset)
              << "</td></tr>";
        }
        h << "<tr><td class=\"i\">" << html_escape(first.where()) << "</td><td class=\"i\">"
          << html_escape(first.insn_text) << "</td>";
        for (size_t e = 0; e < per_row; ++e) {
            const KernelSweepCell& c = result.cells[k + e];
            auto [colour, label] = kernel_cell_verdict(c);
            h << "<td style=\"background:" << colour << "\"";
            if (c.raised) {
                h << " title=\"" << html_escape(recorded_text(c)) << "\"";
            }
            h << ">" << html_escape(label);
            for (const auto& report : c.kernel_reports) {
                h << "<br>kernel: " << html_escape(report);
            }
            const auto& findings = findings_of[k + e];
            h << finding_links(findings);
            // A finding's reproducer is in its row below.
            if (!c.reproducer.empty() && findings.empty()) {
                h << "<br>reproducer: " << html_escape(c.reproducer);
            }
            h << "</td>";
        }
        h << "</tr>";
    }
    h << "</table>";
    h << findings_html(
        result.findings, kTogether, [&](size_t cell) { return trial_text(result.cells[cell]); },
        [&](size_t cell) { return result.cells[cell].reproducer; });
    for (const auto& note : result.notes) {
        h << "<p>note: " << html_escape(note) << "</p>";
    }
    h << kHtmlPageEnd;
    return h.str();
}

std::vector<JunitCase> kernel_sweep_junit_cases(const KernelSweepResult& result) {
    std::vector<JunitCase> cases;
    for (const auto& c : result.cells) {
        JunitCase k;
        k.classname = c.function;
        k.name = c.event + " before " + c.where() + " " + c.insn_text;
        if (!c.raised) {
            k.verdict = JunitCase::Verdict::skipped;
            k.message = kJunitNotReached;
        } else if (!c.ok) {
            k.verdict = JunitCase::Verdict::failed;
            k.message = failure_text(c);
            for (const auto& report : c.kernel_reports) {
                k.details += "kernel: " + report + "\n";
            }
            if (!c.reproducer.empty()) {
                k.details += "reproducer: " + c.reproducer;
            }
        }
        cases.push_back(k);
    }
    std::vector<JunitCase> findings = findings_junit_cases(
        result.findings, kTogether, [&](size_t cell) { return trial_text(result.cells[cell]); });
    cases.insert(cases.end(), findings.begin(), findings.end());
    return cases;
}

nlohmann::json kernel_sweep_identity(const KernelSweepPlan& plan, const MachineConfig& machine) {
    const KernelSweepConfig& config = plan.config;
    nlohmann::json functions = nlohmann::json::array(), events = nlohmann::json::array();
    for (const auto& f : plan.functions) {
        functions.push_back({{"name", f.name}, {"addr", f.addr}, {"size", f.size}});
    }
    for (const auto& event : plan.events) {
        events.push_back(event.first);
    }
    // A workload of the initramfs's own may have no host copy.
    nlohmann::json program = config.host_program.empty()
        ? nlohmann::json{{"path", config.guest_program}, {"sha256", nullptr}}
        : file_identity(config.guest_program, config.host_program);
    return {{"vmlinux_sha256", sha256_of_file(config.vmlinux)},
            {"functions", functions},
            {"events", events},
            {"program", program},
            {"args", config.args},
            {"uploads", uploads_identity(config.uploads)},
            {"root", config.user == RunAs::root},
            {"hit", config.hit},
            {"every_address_space", config.every_address_space},
            {"budget_ms", config.budget_ms},
            {"pkrs_cache_symbol", config.pkrs_cache_symbol},
            {"default_pkrs", config.default_pkrs},
            {"machine", machine_identity(machine)}};
}

nlohmann::json kernel_sweep_json(const KernelSweepResult& result) {
    nlohmann::json cells = nlohmann::json::array();
    for (const auto& c : result.cells) {
        const models::PksInterruptSituation& s = c.situation;
        nlohmann::json failed = nlohmann::json::array();
        for (models::PksCheck check : c.verdict.failed) {
            failed.push_back(models::pks_check_name(check));
        }
        nlohmann::json cell{{"function", c.function},
                            {"offset", c.offset},
                            {"insn_addr", c.insn_addr},
                            {"insn", c.insn_text},
                            {"event", c.event},
                            {"reached", c.raised},
                            {"guest_status", c.guest_status},
                            {"fired_icount", c.fired_icount},
                            {"vcpu", c.vcpu},
                            {"program_ok", c.program_ok},
                            {"kernel_reports", c.kernel_reports},
                            {"outcome", c.outcome},
                            {"ok", c.ok},
                            {"reproducer", c.reproducer}};
        if (c.raised) {
            cell["taken"] = c.verdict.taken;
            cell["not_taken_because"] =
                c.verdict.not_taken_because ? c.verdict.not_taken_because : "";
            cell["failed_checks"] = failed;
            cell["interrupted_pkrs"] = s.interrupted_pkrs;
            cell["interrupted_cache"] = optional_json(s.interrupted_cache);
            cell["interrupts_enabled"] = s.interrupts_enabled;
            cell["handler_pkrs"] = optional_json(s.handler_pkrs);
            cell["returned"] = s.returned;
            cell["return_pkrs"] = s.return_pkrs;
            cell["return_cache"] = optional_json(s.return_cache);
            cell["expected_handler_pkrs"] = c.verdict.expected_handler_pkrs;
            cell["expected_return_pkrs"] = c.verdict.expected_return_pkrs;
        }
        cells.push_back(cell);
    }
    return {{"report", kKernelSweepReport},
            {"sweep", result.identity},
            {"cells", cells},
            {"reached", result.reached()},
            {"failed", result.failed()},
            {"passed", result.passed()},
            {"program_runs", result.program_runs},
            {"shard", result.shard.text()},
            {"notes", result.notes},
            {"findings", findings_json(result.findings)}};
}

KernelSweepResult kernel_sweep_from_json(const nlohmann::json& report) {
    KernelSweepResult result;
    result.identity = report.at("sweep");
    result.shard = parse_shard(report.at("shard").get<std::string>());
    result.program_runs = report.at("program_runs").get<size_t>();
    result.notes = report.at("notes").get<std::vector<std::string>>();
    result.findings = findings_from_json(report);
    for (const auto& j : report.at("cells")) {
        KernelSweepCell c;
        c.function = j.at("function").get<std::string>();
        c.offset = j.at("offset").get<uint64_t>();
        c.insn_addr = j.at("insn_addr").get<uint64_t>();
        c.insn_text = j.at("insn").get<std::string>();
        c.event = j.at("event").get<std::string>();
        c.raised = j.at("reached").get<bool>();
        c.guest_status = j.at("guest_status").get<std::string>();
        c.fired_icount = j.at("fired_icount").get<uint64_t>();
        c.vcpu = j.at("vcpu").get<int>();
        c.program_ok = j.at("program_ok").get<bool>();
        c.kernel_reports = j.at("kernel_reports").get<std::vector<std::string>>();
        c.outcome = j.at("outcome").get<std::string>();
        c.ok = j.at("ok").get<bool>();
        c.reproducer = j.at("reproducer").get<std::string>();
        if (c.raised) {
            models::PksInterruptSituation& s = c.situation;
            s.interrupted_pkrs = j.at("interrupted_pkrs").get<uint32_t>();
            s.interrupted_cache = optional_from<uint32_t>(j.at("interrupted_cache"));
            s.interrupts_enabled = j.at("interrupts_enabled").get<bool>();
            s.handler_pkrs = optional_from<uint32_t>(j.at("handler_pkrs"));
            s.returned = j.at("returned").get<bool>();
            s.return_pkrs = j.at("return_pkrs").get<uint32_t>();
            s.return_cache = optional_from<uint32_t>(j.at("return_cache"));
            models::PksInterruptVerdict& v = c.verdict;
            v.taken = j.at("taken").get<bool>();
            const std::string because = j.at("not_taken_because").get<std::string>();
            if (!because.empty()) {
                v.not_taken_because = models::pks_not_taken_reason(because);
                if (!v.not_taken_because) {
                    throw ConfigError("a cell's reason '" + because +
                                      "' is none the PKS interrupt model gives");
                }
            }
            for (const auto& name : j.at("failed_checks")) {
                std::optional<models::PksCheck> check =
                    models::parse_pks_check(name.get<std::string>());
                if (!check) {
                    throw ConfigError("a cell's failed check '" + name.get<std::string>() +
                                      "' is none the PKS interrupt model makes");
                }
                v.failed.push_back(*check);
            }
            v.expected_handler_pkrs = j.at("expected_handler_pkrs").get<uint32_t>();
            v.expected_return_pkrs = j.at("expected_return_pkrs").get<uint32_t>();
        }
        result.cells.push_back(c);
    }
    return result;
}

}  // namespace faultline
