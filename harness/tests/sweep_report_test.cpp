#include "faultline/campaign/sweep_report.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using namespace faultline;

namespace {

SweepCell cell(uint64_t insn_addr, const std::string& insn, const std::string& event) {
    SweepCell c;
    c.file = "/bin/rseq-counter";
    c.cs = 0x401ca4;
    c.insn_addr = insn_addr;
    c.insn_text = insn;
    c.event = event;
    c.raised = c.fired = true;
    c.invariant_ok = true;
    c.outcome = "exited 0";
    return c;
}

// Two instructions by three events, one cell of each kind the table tells apart.
SweepResult two_rows() {
    SweepResult r;
    const char* first = "cmpl %edi, %fs:4(%rcx)";
    const char* last = "xorl %eax, %eax";
    r.cells = {cell(0x401ca4, first, "preempt"), cell(0x401ca4, first, "signal"),
               cell(0x401ca4, first, "migrate"), cell(0x401cb8, last, "preempt"),
               cell(0x401cb8, last, "signal"),   cell(0x401cb8, last, "migrate")};
    for (int i : {0, 1, 2}) {
        r.cells[i].in_sequence = r.cells[i].expected_abort = true;
        r.cells[i].model = {{models::RseqOutcome::aborts, 0x401cd0, models::RseqError::none}};
    }
    for (int i : {3, 4, 5}) {
        r.cells[i].model = {{models::RseqOutcome::resumes, 0x401cb8, models::RseqError::none}};
    }
    r.cells[0].aborted = true;
    r.cells[0].ok = true;
    r.cells[1].aborted = false;
    r.cells[2].fired = false;
    r.cells[2].guest_status = "no such task";
    r.cells[2].outcome = "the guest did not carry the event out (no such task); the program exited 0";
    r.cells[3].aborted = false;
    r.cells[3].ok = true;
    r.cells[4].raised = r.cells[4].fired = false;
    r.cells[4].outcome = "not reached: the program exited 0";
    r.cells[5].outcome = "unknown whether it aborted: the program exited 0";
    r.trials_per_s = 12.345;
    r.program_runs = 2;
    return r;
}

}  // namespace

// A cell not reached has no verdict: neither FAIL nor among the failures.
TEST(SweepTable, RowsOfWordsThenTotalsThenEachFailure) {
    EXPECT_EQ(sweep_table(two_rows(), {"preempt", "signal", "migrate"}),
              "address    instruction                  preempt      signal       migrate     \n"
              "/bin/rseq-counter\n"
              "0x401ca4   cmpl %edi, %fs:4(%rcx)       abort        commit FAIL  dropped FAIL\n"
              "0x401cb8   xorl %eax, %eax              commit       not-reached  unknown FAIL\n"
              "6 trials in 2 program runs, 3 failed, 0 findings, 12.3 trials/s\n"
              "reached 5 of 6 cells\n"
              "FAIL signal before 0x401ca4 (cmpl %edi, %fs:4(%rcx)): exited 0; fired=1 "
              "observed=commit model=aborts to 0x401cd0\n"
              "FAIL migrate before 0x401ca4 (cmpl %edi, %fs:4(%rcx)): the guest did not carry "
              "the event out (no such task); the program exited 0; fired=0 observed=unknown "
              "model=aborts to 0x401cd0\n"
              "FAIL migrate before 0x401cb8 (xorl %eax, %eax): unknown whether it aborted: the "
              "program exited 0; fired=1 observed=unknown model=resumes at 0x401cb8\n");
}

// A cell the model answers with SIGSEGV passes when the program died of it,
// and the JSON and the picture name the model's answer.
TEST(SweepReport, NamesTheModelsAnswer) {
    SweepResult r;
    r.cells = {cell(0x401ca4, "cmpl %edi, %fs:4(%rcx)", "preempt")};
    SweepCell& c = r.cells[0];
    c.in_sequence = true;
    c.model = {{models::RseqOutcome::sigsegv, 0, models::RseqError::signature_mismatch}};
    c.killed_by_sigsegv = true;
    c.invariant_ok = false;
    c.outcome = "was killed by signal 11";
    c.ok = true;
    EXPECT_EQ(sweep_table(r, {"preempt"}),
              "address    instruction                  preempt     \n"
              "/bin/rseq-counter\n"
              "0x401ca4   cmpl %edi, %fs:4(%rcx)       SIGSEGV     \n"
              "1 trials in 0 program runs, 0 failed, 0 findings\n"
              "reached 1 of 1 cells\n");
    auto json = nlohmann::json::parse(sweep_json(r))["cells"][0];
    EXPECT_EQ(json["model"], nlohmann::json::array({"SIGSEGV (signature_mismatch)"}));
    EXPECT_EQ(json["observed"], "SIGSEGV");
    EXPECT_TRUE(json["aborted"].is_null());
    EXPECT_NE(sweep_html(r, "t").find("SIGSEGV, as the model says: SIGSEGV (signature_mismatch)"),
              std::string::npos);
    c.killed_by_sigsegv = false;
    c.aborted = true;
    c.ok = false;
    EXPECT_NE(sweep_html(r, "t").find(
                  "FAIL: abort, the model says SIGSEGV (signature_mismatch); the program was "
                  "killed by signal 11"),
              std::string::npos);
}

TEST(SweepTable, AFindingNamesItsTrialsInFiringOrder) {
    SweepResult r = two_rows();
    r.findings = {{{3, 0}, "exited 1", 5}};
    std::string table = sweep_table(r, {"preempt", "signal", "migrate"});
    EXPECT_NE(table.find("reached 5 of 6 cells\n"
                         "finding 1: 2 trials break the program's check together, none alone "
                         "(5 runs to minimize; the program exited 1): preempt before 0x401cb8 (xorl %eax, %eax); preempt "
                         "before 0x401ca4 (cmpl %edi, %fs:4(%rcx))\n"
                         "FAIL signal"),
              std::string::npos)
        << table;
}

TEST(SweepJson, FindingsAndTheShardAreReported) {
    SweepResult r = two_rows();
    r.findings = {{{3, 0}, "exited 1", 5}};
    r.shard = {2, 3};
    auto json = nlohmann::json::parse(sweep_json(r));
    EXPECT_EQ(json["shard"], "2/3");
    EXPECT_EQ(json["findings"],
              nlohmann::json::parse(R"([{"cells":[3,0],"outcome":"exited 1","tests":5}])"));
}

// The picture lists each finding with its trials, outcome, runs and
// reproducer; its cells link to it, and a cell failing alone names its own.
TEST(SweepHtml, AFindingIsListedAndItsCellsLinkToIt) {
    SweepResult r = two_rows();
    r.findings = {{{3, 0}, "exited 1", 5}};
    r.cells[3].reproducer = r.cells[0].reproducer = "repro/together.json";
    r.cells[1].reproducer = "repro/signal.json";
    std::string html = sweep_html(r, "t");
    EXPECT_NE(html.find("<h2>Findings</h2>"), std::string::npos) << html;
    EXPECT_NE(html.find("<tr class=\"finding\" id=\"finding-1\"><td>1</td><td><ol>"
                        "<li>preempt before 0x401cb8 (xorl %eax, %eax) in /bin/rseq-counter</li>"
                        "<li>preempt before 0x401ca4 (cmpl %edi, %fs:4(%rcx)) in "
                        "/bin/rseq-counter</li></ol></td><td>exited 1</td><td>5</td>"
                        "<td>repro/together.json</td></tr></table></body></html>\n"),
              std::string::npos)
        << html;
    EXPECT_NE(html.find(">aborted<br><a href=\"#finding-1\">finding 1</a></td>"),
              std::string::npos)
        << html;
    EXPECT_NE(html.find(">committed<br><a href=\"#finding-1\">finding 1</a></td>"),
              std::string::npos)
        << html;
    EXPECT_NE(html.find(">FAIL: commit, the model says aborts to 0x401cd0; the program exited 0"
                        "<br>reproducer: repro/signal.json</td>"),
              std::string::npos)
        << html;
    EXPECT_NE(html.find("3 failed, 1 findings. "), std::string::npos) << html;
}

// A reached cell is a case with the verdict; one not reached or left out
// is skipped, without one; a failure names both answers and the reproducer.
TEST(SweepJunit, ACaseACellWithTheModelsAndTheObservedAnswer) {
    SweepResult r = two_rows();
    r.cells[1].reproducer = "/tmp/repro/signal-0x401ca4.json";
    std::vector<JunitCase> cases = sweep_junit_cases(r);
    ASSERT_EQ(cases.size(), 6u);
    using V = JunitCase::Verdict;
    EXPECT_EQ(cases[0].classname, "/bin/rseq-counter sequence 0x401ca4");
    EXPECT_EQ(cases[0].name, "preempt before 0x401ca4 cmpl %edi, %fs:4(%rcx)");
    EXPECT_EQ(cases[0].verdict, V::passed);
    EXPECT_EQ(cases[1].verdict, V::failed);
    EXPECT_EQ(cases[1].message,
              "observed commit, the model says aborts to 0x401cd0; the program exited 0");
    EXPECT_EQ(cases[1].details, "reproducer: /tmp/repro/signal-0x401ca4.json");
    EXPECT_EQ(cases[2].verdict, V::failed);
    EXPECT_EQ(cases[3].verdict, V::passed);
    EXPECT_EQ(cases[4].verdict, V::skipped);
    EXPECT_EQ(cases[4].message, "not reached by the workload: no verdict");
    EXPECT_EQ(cases[5].verdict, V::failed);
}

TEST(SweepJunit, AFindingIsAFailedCaseListingItsTrials) {
    SweepResult r = two_rows();
    r.findings = {{{0, 3}, "exited 1", 4}};
    std::vector<JunitCase> cases = sweep_junit_cases(r);
    ASSERT_EQ(cases.size(), 7u);
    EXPECT_EQ(cases[6].classname, "findings");
    EXPECT_EQ(cases[6].name, "finding 1");
    EXPECT_EQ(cases[6].verdict, JunitCase::Verdict::failed);
    EXPECT_EQ(cases[6].message,
              "2 trials break the program's check together, none alone; the program exited 1");
    EXPECT_EQ(cases[6].details,
              "preempt before 0x401ca4 (cmpl %edi, %fs:4(%rcx))\n"
              "preempt before 0x401cb8 (xorl %eax, %eax)\n");
}

TEST(JunitXml, CountsEachVerdictAndEscapesWhatXmlCannotCarry) {
    using V = JunitCase::Verdict;
    std::vector<JunitCase> cases = {
        {"conformance pks", "pks-selftest", V::passed, "", ""},
        {"conformance pks", "kmap <a & b>", V::failed, "3 of 54 \"cells\"\nfailed",
         std::string("bell \a")},
        {"sweep", "preempt before 0x1", V::skipped, "not reached", ""}};
    EXPECT_EQ(junit_xml("suite & co", cases),
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<testsuites>\n"
              "  <testsuite name=\"suite &amp; co\" tests=\"3\" failures=\"1\" errors=\"0\" "
              "skipped=\"1\">\n"
              "    <testcase classname=\"conformance pks\" name=\"pks-selftest\"/>\n"
              "    <testcase classname=\"conformance pks\" name=\"kmap &lt;a &amp; b&gt;\">\n"
              "      <failure message=\"3 of 54 &quot;cells&quot;&#10;failed\">bell "
              "\xef\xbf\xbd</failure>\n"
              "    </testcase>\n"
              "    <testcase classname=\"sweep\" name=\"preempt before 0x1\">\n"
              "      <skipped message=\"not reached\"/>\n"
              "    </testcase>\n"
              "  </testsuite>\n"
              "</testsuites>\n");
}
