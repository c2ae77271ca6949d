// Exploration: bugs one event cannot show (a preemption that aborts a
// critical section, then a migration inside its abort handler). Each run
// fires `depth` events, one after another, each before a seeded random
// instruction of a critical section or of its abort handler and at a
// seeded random hit count (counted from when the event before it fired).
// A run whose program check fails is a failure: its schedule is shrunk by
// delta debugging to events none of which can be left out, each test a run
// from the exploration's snapshot, and distinct minimal schedules are the
// findings. Everything follows from the seed: run k's schedule is a
// function of (seed, k) alone, so shards of the runs find what one
// exploration of them all does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "faultline/campaign/junit.hpp"
#include "faultline/campaign/reproducer.hpp"
#include "faultline/campaign/shard.hpp"
#include "faultline/campaign/sweep.hpp"
#include "faultline/injection/inject.hpp"
#include "faultline/machine/machine.hpp"

namespace faultline {

struct ExploreConfig {
    std::string host_binary;    // the program's ELF on the host
    std::string guest_program;  // where it is in the guest
    // The other files put in the guest before the exploration (the
    // program's libraries, data files): a reproducer records them.
    std::vector<Upload> uploads;
    std::vector<std::string> args;
    std::vector<std::string> events = swept_event_names();
    uint32_t depth = 2;    // events per run
    uint32_t runs = 100;   // runs of the whole exploration (before sharding)
    uint64_t seed = 1;
    uint32_t max_hit = 3;  // hit counts are drawn from 1..max_hit
    int signo = 10;        // what a signal event sends
    uint32_t budget_ms = 5000;  // as SweepConfig::budget_ms
    Shard shard;           // which of the runs this exploration does
    // Non-empty: a directory that gets a reproducer file for each finding.
    std::string repro_dir;
};

// Where an event may fire: an instruction of a critical section before its
// post-commit address, or of its abort handler.
struct ExploreSite {
    uint64_t cs = 0;  // the section's start (link-time addresses of the program)
    Instruction insn;
    bool in_abort_handler = false;
    bool operator==(const ExploreSite&) const = default;
};

struct ExplorePlan {
    ExploreConfig config;
    std::vector<CriticalSection> sequences;
    std::vector<ExploreSite> sites;
    std::vector<std::pair<std::string, Event>> events;
};

// One scheduled event: a site, a hit count and an event (indexes into the plan).
struct ExploreStep {
    size_t site = 0;
    uint32_t hit = 1;
    size_t event = 0;
    bool operator==(const ExploreStep&) const = default;
};

// A step as a finding reports it, apart from the plan: where, at which hit,
// which event.
struct ExploreEvent {
    ExploreSite site;
    uint32_t hit = 1;
    std::string event;  // its name
    bool operator==(const ExploreEvent&) const = default;
};

struct ExploreFinding {
    size_t run = 0;                    // the first run that broke the invariant this way
    std::vector<size_t> also_runs;     // later runs that shrank to the same schedule
    std::vector<ExploreEvent> schedule;  // minimal, in firing order
    std::vector<ReproFiring> firings;   // of the minimal schedule, run from the snapshot
    std::string outcome;               // how that run ended
    std::string output;                // its stdout
    size_t tests = 0;                  // program runs the minimization took
    std::string reproducer;            // its file (ExploreConfig::repro_dir)
};

struct ExploreResult {
    ExploreConfig config;               // what was explored
    size_t first_run = 0, end_run = 0;  // the runs done: [first_run, end_run)
    size_t failed_runs = 0;
    size_t program_runs = 0;            // runs, minimization tests and baseline
    // The exploration's runs (not the minimization) a second: a
    // measurement, in no report file (0 when not measured, as in a merge).
    double runs_per_s = 0;
    std::vector<ExploreFinding> findings;  // in order of their first run
    // What was explored on what (explore_identity): the shards of one
    // exploration have the same.
    nlohmann::json identity;
    // The guest kernel's reports of a bug in itself by the end.
    std::vector<std::string> kernel_reports;
};

// Reads and checks all an exploration needs before anything boots:
// ConfigError naming a missing file, a program without rseq critical
// sections, an unknown event, depth or runs below 1, max_hit below 1.
ExplorePlan plan_explore(const ExploreConfig& config);
// Run k's schedule: depth steps drawn from (seed, k).
std::vector<ExploreStep> explore_schedule(const ExplorePlan& plan, size_t run);
// The steps' sites and event names, from the plan.
std::vector<ExploreEvent> explore_events(const ExplorePlan& plan,
                                         const std::vector<ExploreStep>& steps);
// Checks the program (in the guest already) passes without events,
// snapshots the machine (replacing an earlier snapshot), then does the
// shard's runs, each from the snapshot.
ExploreResult run_explore(Machine& machine, const ExplorePlan& plan);
// What an exploration's findings depend on, files by content and never by
// path: the program, its arguments and files, the events and the draw
// (seed, depth, runs, hit counts), and the machine.
nlohmann::json explore_identity(const ExplorePlan& plan, const MachineConfig& machine);
// A text report: each finding with its events, then the totals.
std::string explore_table(const ExploreResult& result);
// The JSON report's "report": what merge tells it by.
inline constexpr const char* kExploreReport = "faultline explore";
// The same result gives the same bytes: no timing is in it.
std::string explore_json(const ExploreResult& result);
// The result an explore_json() report holds (runs_per_s 0; of the config,
// what the report names). Throws nlohmann::json's errors for a field
// missing or of the wrong type.
ExploreResult explore_from_json(const nlohmann::json& report);
// --junit: one case a run, failed when the run broke the program's check
// (its finding's events and reproducer).
std::vector<JunitCase> explore_junit_cases(const ExploreResult& result);

}  // namespace faultline
