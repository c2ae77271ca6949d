#include "faultline/campaign/explore.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "faultline/campaign/ddmin.hpp"
#include "faultline/campaign/replay.hpp"
#include "faultline/campaign/report_text.hpp"
#include "faultline/campaign/reproducer.hpp"
#include "faultline/machine/errors.hpp"

namespace faultline {

ExplorePlan plan_explore(const ExploreConfig& config) {
    if (config.depth < 1) {
        throw ConfigError("depth must be at least 1 (events per run)");
    }
    if (config.runs < 1) {
        throw ConfigError("runs must be at least 1");
    }
    if (config.max_hit < 1) {
        throw ConfigError("max hit must be at least 1 (hit counts start at 1)");
    }
    if (!std::filesystem::is_regular_file(config.host_binary)) {
        throw ConfigError("binary not found: " + config.host_binary);
    }
    ExplorePlan plan{config, rseq_critical_sections(config.host_binary), {}, {}};
    if (plan.sequences.empty()) {
        throw ConfigError(config.host_binary + ": no rseq critical section (no "
                          "__rseq_cs_ptr_array section: a stripped binary or one without rseq "
                          "descriptors listed there)");
    }
    for (const auto& cs : plan.sequences) {
        std::vector<Instruction> inside = instructions_of(config.host_binary, cs);
        inside.pop_back();  // the post-commit instruction is outside
        for (const auto& insn : inside) {
            plan.sites.push_back({cs.start, insn, false});
        }
        for (const auto& insn : abort_handler_of(config.host_binary, cs)) {
            plan.sites.push_back({cs.start, insn, true});
        }
    }
    for (const auto& name : config.events) {
        plan.events.emplace_back(name, swept_event(name, config.signo));
    }
    if (plan.events.empty()) {
        throw ConfigError("no events to fire");
    }
    return plan;
}

namespace {

// Sebastiano Vigna's splitmix64: a fixed function, the same on every host.
uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

class Explorer {
public:
    Explorer(Machine& machine, const ExplorePlan& plan) : machine_(machine), plan_(plan) {}

    ExploreResult run() {
        const ExploreConfig& config = plan_.config;
        RunResult baseline =
            run_baseline(machine_, config.guest_program, config.args, config.budget_ms);
        machine_.snapshot();
        ++program_runs_;
        baseline_timed_out_ = baseline.timed_out;
        baseline_icount_ = baseline.icount;
        ExploreResult result;
        result.config = config;
        std::tie(result.first_run, result.end_run) = config.shard.range(config.runs);
        std::chrono::duration<double> exploring{};
        for (size_t run = result.first_run; run < result.end_run; ++run) {
            auto started = std::chrono::steady_clock::now();
            std::vector<ExploreStep> schedule = explore_schedule(plan_, run);
            bool broke = run_schedule(schedule).broke;
            exploring += std::chrono::steady_clock::now() - started;
            if (broke) {
                ++result.failed_runs;
                add_finding(result.findings, run, schedule);
            }
        }
        result.program_runs = program_runs_;
        size_t runs = result.end_run - result.first_run;
        result.runs_per_s = exploring.count() > 0 ? double(runs) / exploring.count() : 0;
        result.identity = explore_identity(plan_, machine_.config());
        result.kernel_reports = machine_.kernel_reports();
        return result;
    }

private:
    struct Outcome {
        bool broke = false;
        ScheduledRun scheduled;
    };

    // The watch of an event at a site, as the sweep's: the thread goes next to
    // its section's abort handler (aborted) or back to the site. At the
    // handler's first instruction the two are one: nothing to watch.
    std::optional<uint64_t> watch_of(const ExploreSite& site) const {
        for (const auto& section : plan_.sequences) {
            if (section.start == site.cs) {
                return section.abort == site.insn.addr ? std::nullopt
                                                       : std::optional<uint64_t>(section.abort);
            }
        }
        throw std::logic_error("explore: a site outside every section");
    }

    std::vector<ReproEntry> entries_of(const std::vector<ExploreStep>& steps) const {
        std::vector<ReproEntry> entries;
        for (const auto& step : steps) {
            const Event& event = plan_.events[step.event].second;
            std::optional<uint64_t> arg;
            if (event_kind(event.kind).takes_arg() && event.arg != FAULTLINE_ARG_DEFAULT) {
                arg = event.arg;
            }
            const ExploreSite& site = plan_.sites[step.site];
            entries.push_back({plan_.config.guest_program, site.insn.addr, step.hit,
                               event.name(), arg, watch_of(site)});
        }
        return entries;
    }

    // A program that outlives its budget without events gets all of it;
    // else a livelock ends where it is certain.
    uint32_t budget_ms(const std::vector<ExploreStep>& steps) const {
        if (baseline_timed_out_) {
            return plan_.config.budget_ms;
        }
        std::vector<Event::Kind> events;
        for (const auto& step : steps) {
            events.push_back(plan_.events[step.event].second.kind);
        }
        return run_budget_ms(baseline_icount_, events, plan_.config.budget_ms);
    }

    // The schedule's events in one run of the program from the snapshot.
    Outcome run_schedule(const std::vector<ExploreStep>& steps) {
        const ExploreConfig& config = plan_.config;
        machine_.restore();
        Outcome o;
        o.scheduled = faultline::run_schedule(machine_, {{config.host_binary, config.guest_program}},
                                              config.args, budget_ms(steps), RunAs::nobody,
                                              entries_of(steps));
        ++program_runs_;
        const RunResult& run = o.scheduled.run;
        // A program that outlives its budget without events may with them.
        o.broke = !check_passed(run) && !(run.timed_out && baseline_timed_out_);
        return o;
    }

    void add_finding(std::vector<ExploreFinding>& findings, size_t run,
                     const std::vector<ExploreStep>& schedule) {
        size_t tests = 0;
        std::vector<ExploreStep> minimal = ddmin(schedule, [&](const auto& steps) {
            ++tests;
            return run_schedule(steps).broke;
        });
        std::vector<ExploreEvent> events = explore_events(plan_, minimal);
        for (auto& known : findings) {
            if (known.schedule == events) {
                known.also_runs.push_back(run);
                return;
            }
        }
        Outcome o = run_schedule(minimal);
        const RunResult& last = o.scheduled.run;
        findings.push_back({run, {}, events, o.scheduled.recorded(), outcome_of(last),
                            last.stdout_text, tests, ""});
        if (!plan_.config.repro_dir.empty()) {
            findings.back().reproducer = write_reproducer(
                plan_.config.repro_dir, reproducer_of(findings.back(), minimal, o));
        }
    }

    Reproducer reproducer_of(const ExploreFinding& finding,
                             const std::vector<ExploreStep>& minimal, const Outcome& o) const {
        const ExploreConfig& config = plan_.config;
        Reproducer r;
        r.finding = "explore run " + std::to_string(finding.run) + " (seed " +
                    std::to_string(config.seed) + ", depth " + std::to_string(config.depth) +
                    "), shrunk to " + std::to_string(finding.schedule.size()) +
                    " events none of which can be left out; the program " + finding.outcome;
        r.take_machine(machine_.config());
        r.files = {{config.guest_program, config.host_binary, ""}};
        r.take_uploads(config.uploads);
        r.args = config.args;
        r.baseline_runs = 1;
        r.baseline_budget_ms = config.budget_ms;
        r.budget_ms = budget_ms(minimal);
        r.schedule = entries_of(minimal);
        r.firings = finding.firings;
        r.outcome = ReproOutcome::of(o.scheduled.run);
        return r;
    }

    Machine& machine_;
    const ExplorePlan& plan_;
    bool baseline_timed_out_ = false;
    uint64_t baseline_icount_ = 0;
    size_t program_runs_ = 0;
};

std::string step_text(const ExploreEvent& step) {
    const ExploreSite& site = step.site;
    return step.event + " before " + hex(site.insn.addr) + " (" + site.insn.text + ") hit " +
           std::to_string(step.hit) + ", in " +
           (site.in_abort_handler ? "the abort handler of " : "") + "the section at " +
           hex(site.cs);
}

}  // namespace

std::vector<ExploreStep> explore_schedule(const ExplorePlan& plan, size_t run) {
    uint64_t seed = plan.config.seed;
    uint64_t state = splitmix64(seed) ^ run;
    std::vector<ExploreStep> steps;
    for (uint32_t k = 0; k < plan.config.depth; ++k) {
        ExploreStep step;
        step.site = size_t(splitmix64(state) % plan.sites.size());
        step.hit = uint32_t(1 + splitmix64(state) % plan.config.max_hit);
        step.event = size_t(splitmix64(state) % plan.events.size());
        steps.push_back(step);
    }
    return steps;
}

std::vector<ExploreEvent> explore_events(const ExplorePlan& plan,
                                         const std::vector<ExploreStep>& steps) {
    std::vector<ExploreEvent> events;
    for (const auto& step : steps) {
        events.push_back({plan.sites[step.site], step.hit, plan.events[step.event].first});
    }
    return events;
}

ExploreResult run_explore(Machine& machine, const ExplorePlan& plan) {
    return Explorer(machine, plan).run();
}

nlohmann::json explore_identity(const ExplorePlan& plan, const MachineConfig& machine) {
    const ExploreConfig& config = plan.config;
    return {{"program", file_identity(config.guest_program, config.host_binary)},
            {"args", config.args},
            {"uploads", uploads_identity(config.uploads)},
            {"events", config.events},
            {"depth", config.depth},
            {"runs", config.runs},
            {"seed", config.seed},
            {"max_hit", config.max_hit},
            {"signal", config.signo},
            {"budget_ms", config.budget_ms},
            {"machine", machine_identity(machine)}};
}

std::string explore_table(const ExploreResult& result) {
    std::string t;
    for (size_t k = 0; k < result.findings.size(); ++k) {
        const ExploreFinding& f = result.findings[k];
        t += "finding " + std::to_string(k + 1) + " (run " + std::to_string(f.run);
        for (size_t also : f.also_runs) {
            t += (also == f.also_runs.front() ? "; also runs " : ", ") + std::to_string(also);
        }
        t += "): " + std::to_string(f.schedule.size()) + " events, none of which can be left " +
             "out (" + std::to_string(f.tests) + " runs to minimize); the program " + f.outcome +
             "\n";
        for (size_t i = 0; i < f.schedule.size(); ++i) {
            t += "  " + step_text(f.schedule[i]);
            if (i < f.firings.size()) {
                t += ": fired at instruction " + std::to_string(f.firings[i].icount) + " on vCPU " +
                     std::to_string(f.firings[i].vcpu) + " (" + f.firings[i].status + ")";
            }
            t += "\n";
        }
        if (!f.reproducer.empty()) {
            t += "  reproducer: " + f.reproducer + "\n";
        }
    }
    char totals[256];
    std::snprintf(totals, sizeof totals,
                  "%zu runs (from run %zu of %u; shard %s), seed %llu, depth %u: %zu failed, "
                  "%zu findings, %zu program runs",
                  result.end_run - result.first_run, result.first_run, result.config.runs,
                  result.config.shard.text().c_str(), (unsigned long long)result.config.seed,
                  result.config.depth, result.failed_runs, result.findings.size(),
                  result.program_runs);
    t += totals;
    if (result.runs_per_s > 0) {
        std::snprintf(totals, sizeof totals, ", %.1f runs/s", result.runs_per_s);
        t += totals;
    }
    return t + "\n";
}

std::string explore_json(const ExploreResult& result) {
    nlohmann::json findings = nlohmann::json::array();
    for (const auto& f : result.findings) {
        nlohmann::json schedule = nlohmann::json::array(), firings = nlohmann::json::array();
        for (const auto& step : f.schedule) {
            schedule.push_back({{"cs", step.site.cs},
                                {"insn_addr", step.site.insn.addr},
                                {"insn", step.site.insn.text},
                                {"in_abort_handler", step.site.in_abort_handler},
                                {"hit", step.hit},
                                {"event", step.event}});
        }
        for (const auto& firing : f.firings) {
            firings.push_back({{"icount", firing.icount},
                               {"vcpu", firing.vcpu},
                               {"rip", firing.rip},
                               {"status", firing.status}});
        }
        findings.push_back({{"run", f.run},
                            {"also_runs", f.also_runs},
                            {"schedule", schedule},
                            {"firings", firings},
                            {"outcome", f.outcome},
                            {"stdout", f.output},
                            {"tests", f.tests},
                            {"reproducer", f.reproducer}});
    }
    const ExploreConfig& config = result.config;
    return nlohmann::json{{"report", kExploreReport},
                          {"explore", result.identity},
                          {"program", config.guest_program},
                          {"seed", config.seed},
                          {"depth", config.depth},
                          {"runs", config.runs},
                          {"max_hit", config.max_hit},
                          {"events", config.events},
                          {"shard", config.shard.text()},
                          {"first_run", result.first_run},
                          {"end_run", result.end_run},
                          {"failed_runs", result.failed_runs},
                          {"program_runs", result.program_runs},
                          {"kernel_reports", result.kernel_reports},
                          {"findings", findings}}
               .dump(1) +
           "\n";
}

ExploreResult explore_from_json(const nlohmann::json& report) {
    ExploreResult result;
    ExploreConfig& config = result.config;
    config.guest_program = report.at("program").get<std::string>();
    config.seed = report.at("seed").get<uint64_t>();
    config.depth = report.at("depth").get<uint32_t>();
    config.runs = report.at("runs").get<uint32_t>();
    config.max_hit = report.at("max_hit").get<uint32_t>();
    config.events = report.at("events").get<std::vector<std::string>>();
    config.shard = parse_shard(report.at("shard").get<std::string>());
    result.identity = report.at("explore");
    result.first_run = report.at("first_run").get<size_t>();
    result.end_run = report.at("end_run").get<size_t>();
    result.failed_runs = report.at("failed_runs").get<size_t>();
    result.program_runs = report.at("program_runs").get<size_t>();
    result.kernel_reports = report.at("kernel_reports").get<std::vector<std::string>>();
    for (const auto& f : report.at("findings")) {
        ExploreFinding finding;
        finding.run = f.at("run").get<size_t>();
        finding.also_runs = f.at("also_runs").get<std::vector<size_t>>();
        for (const auto& step : f.at("schedule")) {
            finding.schedule.push_back(
                {{step.at("cs").get<uint64_t>(),
                  {step.at("insn_addr").get<uint64_t>(), step.at("insn").get<std::string>()},
                  step.at("in_abort_handler").get<bool>()},
                 step.at("hit").get<uint32_t>(),
                 step.at("event").get<std::string>()});
        }
        for (const auto& firing : f.at("firings")) {
            ReproFiring recorded;
            recorded.icount = firing.at("icount").get<uint64_t>();
            recorded.vcpu = firing.at("vcpu").get<int>();
            recorded.rip = firing.at("rip").get<uint64_t>();
            recorded.status = firing.at("status").get<std::string>();
            finding.firings.push_back(recorded);
        }
        finding.outcome = f.at("outcome").get<std::string>();
        finding.output = f.at("stdout").get<std::string>();
        finding.tests = f.at("tests").get<size_t>();
        finding.reproducer = f.at("reproducer").get<std::string>();
        result.findings.push_back(finding);
    }
    return result;
}

std::vector<JunitCase> explore_junit_cases(const ExploreResult& result) {
    std::vector<JunitCase> cases;
    for (size_t run = result.first_run; run < result.end_run; ++run) {
        JunitCase c;
        c.classname = "explore seed " + std::to_string(result.config.seed) + " depth " +
                      std::to_string(result.config.depth);
        c.name = "run " + std::to_string(run);
        cases.push_back(c);
    }
    for (size_t k = 0; k < result.findings.size(); ++k) {
        const ExploreFinding& f = result.findings[k];
        std::vector<size_t> runs = f.also_runs;
        runs.insert(runs.begin(), f.run);
        for (size_t run : runs) {
            JunitCase& c = cases.at(run - result.first_run);
            c.verdict = JunitCase::Verdict::failed;
            c.message = "finding " + std::to_string(k + 1) + ": " +
                        std::to_string(f.schedule.size()) +
                        " events, none of which can be left out; the program " + f.outcome;
            for (const auto& step : f.schedule) {
                c.details += step_text(step) + "\n";
            }
            if (!f.reproducer.empty()) {
                c.details += "reproducer: " + f.reproducer + "\n";
            }
        }
    }
    return cases;
}

}  // namespace faultline
