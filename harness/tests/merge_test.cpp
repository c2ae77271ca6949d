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
    EXPECT_EQ(sweep_json(sweep_from_json(sweep_json(r))), sweep_json(r));
    EXPECT_EQ(sweep_from_json(sweep_json(r)).cells[1].observed(), models::RseqOutcome::sigsegv);
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
