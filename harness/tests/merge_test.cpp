#include "faultline/campaign/merge.hpp"

#include <gtest/gtest.h>

#include "faultline/campaign/sweep_report.hpp"
#include "faultline/machine/errors.hpp"

using namespace faultline;

namespace {

SweepCell cell(uint64_t insn_addr, const std::string& event, bool aborted) {
    SweepCell c;
    c.file = "/tmp/counter";
    c.cs = 0x1000;
    c.insn_addr = insn_addr;
    c.insn_text = "nop";
    c.in_sequence = true;
    c.event = event;
    c.raised = c.fired = c.expected_abort = c.invariant_ok = c.ok = true;
    c.fired_icount = 90000000 + insn_addr;
    c.vcpu = 1;
    c.model = {{models::RseqOutcome::aborts, 0x1040, models::RseqError::none}};
    c.aborted = aborted;
    c.outcome = "exited 0";
    return c;
}

// Shard index of 2 (each a row of two events), with one finding of both
// its cells; the note every shard of the sweep has.
SweepResult shard(uint32_t index, const std::string& program = "/tmp/counter") {
    SweepResult r;
    r.shard = {index, 2};
    r.identity = {{"program", {{"path", program}}}, {"events", {"preempt", "signal"}}};
    uint64_t row = 0x1000 + 4 * index;
    r.cells = {cell(row, "preempt", true), cell(row, "signal", true)};
    for (auto& c : r.cells) {
        c.invariant_ok = false;
        c.outcome = "exited 1" + finding_mention(1) + "with both in one run the program exited 1";
    }
    r.findings = {{{0, 1}, "exited 1", 3}};
    r.program_runs = 4 + index;
    r.notes = {"a note of the plan"};
    r.kernel_reports = {"WARNING: at shard " + std::to_string(index)};
    return r;
}

ShardReport report(const std::string& path, const SweepResult& r) { return {path, sweep_json(r)}; }

std::string merge_error(const std::vector<ShardReport>& shards) {
    try {
        merge_sweep_shards(shards);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "merged";
}

}  // namespace

// A report read back writes the same bytes: what merge relies on.
TEST(SweepJson, ReadsBackToTheSameReport) {
    SweepResult r = shard(1);
    r.cells[1].aborted.reset();
    r.cells[1].killed_by_sigsegv = true;
    r.cells[1].model = {{models::RseqOutcome::sigsegv, 0, models::RseqError::signature_mismatch}};
    r.cells[0].reproducer = "repro/a.json";
    auto read_back = [](const SweepResult& result) {
        return sweep_from_json(nlohmann::json::parse(sweep_json(result)));
    };
    EXPECT_EQ(sweep_json(read_back(r)), sweep_json(r));
    EXPECT_EQ(read_back(r).cells[1].observed(), models::RseqOutcome::sigsegv);
}

// Shard 2's finding becomes finding 2, in its member cells' outcomes too;
// runs add up; a note and a report both shards have come once.
TEST(MergeSweepShards, ConcatenatesInShardOrderAndRenumbersFindings) {
    SweepResult merged = merge_sweep_shards({report("b.json", shard(2)), report("a.json", shard(1))});
    ASSERT_EQ(merged.cells.size(), 4u);
    EXPECT_EQ(merged.cells[0].insn_addr, 0x1004u);
    EXPECT_EQ(merged.cells[2].insn_addr, 0x1008u);
    ASSERT_EQ(merged.findings.size(), 2u);
    EXPECT_EQ(merged.findings[1].cells, (std::vector<size_t>{2, 3}));
    EXPECT_EQ(merged.cells[1].outcome, "exited 1; finding 1: with both in one run the program exited 1");
    EXPECT_EQ(merged.cells[3].outcome, "exited 1; finding 2: with both in one run the program exited 1");
    EXPECT_EQ(merged.program_runs, 5u + 6u);
    EXPECT_EQ(merged.notes, std::vector<std::string>{"a note of the plan"});
    EXPECT_EQ(merged.kernel_reports,
              (std::vector<std::string>{"WARNING: at shard 1", "WARNING: at shard 2"}));
    EXPECT_EQ(merged.shard.text(), "1/1");
    EXPECT_EQ(merged.trials_per_s, 0);
}

// A cell in two findings of its shard: each mention is raised once.
TEST(MergeSweepShards, RaisesEachFindingNumberOnce) {
    SweepResult second = shard(2);
    second.findings.push_back({{1}, "exited 1", 1});
    second.cells[1].outcome += finding_mention(2) + "alone";
    SweepResult merged = merge_sweep_shards({report("a.json", shard(1)), report("b.json", second)});
    EXPECT_EQ(merged.cells[3].outcome,
              "exited 1; finding 2: with both in one run the program exited 1; finding 3: alone");
}

TEST(MergeSweepShards, RefusesWhatIsNotOneWholeSweep) {
    EXPECT_EQ(merge_error({}), "no shard reports to merge");
    EXPECT_EQ(merge_error({report("a.json", shard(1)), report("c.json", shard(1)),
                           report("b.json", shard(2))}),
              "shard 1/2 is given twice: a.json and c.json");
    EXPECT_EQ(merge_error({report("b.json", shard(2))}),
              "shard 1/2 missing: the union would not be the whole sweep");
    SweepResult whole = shard(1);
    whole.shard = {1, 1};
    EXPECT_EQ(merge_error({report("a.json", shard(1)), report("w.json", whole)}),
              "a.json is shard 1/2 and w.json shard 1/1: shards of different splits");
    EXPECT_EQ(merge_error({report("a.json", shard(1)), report("b.json", shard(2, "/tmp/other"))}),
              "shards of different sweeps: sweep/program/path is \"/tmp/counter\" in a.json and "
              "\"/tmp/other\" in b.json");
    EXPECT_EQ(merge_error({{"x.json", "{\"report\": \"faultline explore\"}"}}),
              "x.json: not a faultline sweep report: not a report of faultline sweep (its "
              "\"report\" is not \"faultline sweep\")");
    SweepResult bad = shard(1);
    std::string text = sweep_json(bad);
    text.replace(text.find("aborts to 0x1040"), 16, "aborts to 0xzz");
    EXPECT_EQ(merge_error({{"a.json", text}, report("b.json", shard(2))}),
              "a.json: not a faultline sweep report: a cell's model answer 'aborts to 0xzz' is "
              "none the rseq model gives");
}

namespace {

// Shard index of 2 of 10 runs, with a finding of one schedule at its
// first run: both shards find the same one.
ExploreResult explore_shard(uint32_t index) {
    ExploreResult r;
    r.config.guest_program = "/tmp/fallback";
    r.config.runs = 10;
    r.config.shard = {index, 2};
    r.identity = {{"program", {{"path", "/tmp/fallback"}}}, {"seed", 1}};
    r.first_run = 5 * (index - 1);
    r.end_run = 5 * index;
    r.failed_runs = 2;
    // The baseline, 5 runs, 2 minimization tests and the minimal run.
    r.program_runs = 1 + 5 + 2 + 1;
    ExploreFinding f;
    f.run = r.first_run;
    f.also_runs = {r.first_run + 3};
    f.schedule = {{{0x1000, {0x1004, "nop"}, false}, 1, "migrate"}};
    f.outcome = "exited 1";
    f.tests = 2;
    r.findings = {f};
    return r;
}

}  // namespace

// The whole exploration finds the schedule once, at run 0, and runs 3, 5
// and 8 shrink to it; it runs one baseline, and no minimal run for run 5.
TEST(MergeExploreShards, ALaterShardsFindingOfAKnownScheduleIsOneMoreRun) {
    ExploreResult merged = merge_explore_shards({{"b.json", explore_json(explore_shard(2))},
                                                 {"a.json", explore_json(explore_shard(1))}});
    ASSERT_EQ(merged.findings.size(), 1u);
    EXPECT_EQ(merged.findings[0].run, 0u);
    EXPECT_EQ(merged.findings[0].also_runs, (std::vector<size_t>{3, 5, 8}));
    EXPECT_EQ(merged.failed_runs, 4u);
    EXPECT_EQ(merged.program_runs, 1u + 10 + 4 + 1);
    EXPECT_EQ((std::pair{merged.first_run, merged.end_run}), (std::pair<size_t, size_t>{0, 10}));
    EXPECT_EQ(merged.config.shard.text(), "1/1");
    std::vector<JunitCase> cases = explore_junit_cases(merged);
    ASSERT_EQ(cases.size(), 10u);
    for (size_t run = 0; run < 10; ++run) {
        bool failed = run == 0 || run == 3 || run == 5 || run == 8;
        EXPECT_EQ(cases[run].verdict == JunitCase::Verdict::failed, failed) << run;
    }
    EXPECT_EQ(cases[5].message,
              "finding 1: 1 events, none of which can be left out; the program exited 1");
}

TEST(MergeExploreShards, RefusesAnotherExplorationsShard) {
    ExploreResult other = explore_shard(2);
    other.identity["seed"] = 2;
    try {
        merge_explore_shards({{"a.json", explore_json(explore_shard(1))},
                              {"b.json", explore_json(other)}});
        ADD_FAILURE();
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(), "shards of different explorations: explore/seed is 1 in a.json and 2 in "
                               "b.json");
    }
}

namespace {

// A kernel sweep's shard index of 2: one instruction, a preemption and an
// irq before it, which fail together as its one finding.
KernelSweepResult kernel_shard(uint32_t index) {
    KernelSweepResult r;
    r.shard = {index, 2};
    r.identity = {{"functions", {{{"name", "f"}}}}, {"events", {"preempt", "irq"}}};
    for (const char* event : {"preempt", "irq"}) {
        KernelSweepCell c;
        c.function = "f";
        c.offset = index;
        c.insn_addr = 0xffffffff81000000 + index;
        c.insn_text = "nop";
        c.event = event;
        c.raised = c.program_ok = c.ok = true;
        c.verdict.taken = true;
        c.outcome = "taken, passed; the program exited 0" + finding_mention(1) +
                    "with both in one run the program exited 1";
        r.cells.push_back(c);
    }
    r.findings = {{{0, 1}, "exited 1", 3}};
    r.program_runs = 3 + index;
    return r;
}

ShardReport kernel_report(const std::string& path, const KernelSweepResult& r) {
    return {path, kernel_sweep_json(r).dump()};
}

}  // namespace

// A kernel sweep's findings read back, and a later shard's renumbered as
// the rseq sweep's are: a merge of reports that fail only by findings
// still fails.
TEST(MergeKernelSweepShards, KeepsAndRenumbersFindings) {
    KernelSweepResult first = kernel_shard(1);
    EXPECT_EQ(kernel_sweep_json(kernel_sweep_from_json(kernel_sweep_json(first))),
              kernel_sweep_json(first));
    KernelSweepResult merged =
        merge_kernel_sweep_shards({kernel_report("b.json", kernel_shard(2)),
                                   kernel_report("a.json", first)});
    ASSERT_EQ(merged.findings.size(), 2u);
    EXPECT_EQ(merged.findings[1].cells, (std::vector<size_t>{2, 3}));
    EXPECT_EQ(merged.cells[3].outcome,
              "taken, passed; the program exited 0; finding 2: with both in one run the "
              "program exited 1");
    EXPECT_EQ(merged.failed(), 0u);
    EXPECT_FALSE(merged.passed());
}
