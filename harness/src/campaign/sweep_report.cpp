#include "faultline/campaign/sweep_report.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "faultline/campaign/findings.hpp"
#include "faultline/campaign/optional_json.hpp"
#include "faultline/campaign/report_text.hpp"
#include "faultline/machine/errors.hpp"

namespace faultline {

namespace {

// What the thread did, as the table says it.
const char* observed_word(const SweepCell& c) {
    switch (c.observed().value_or(models::RseqOutcome::resumes)) {
    case models::RseqOutcome::aborts: return "abort";
    case models::RseqOutcome::resumes: return c.observed() ? "commit" : "unknown";
    case models::RseqOutcome::sigsegv: return "SIGSEGV";
    }
    return "unknown";
}

std::vector<std::string> model_answers(const SweepCell& c) {
    std::vector<std::string> answers;
    for (const auto& v : c.model) {
        answers.push_back(models::to_string(v));
    }
    return answers;
}

// "aborts to 0x401b0e", or "resumes at 0x401828 or aborts to 0x401b0e".
std::string model_answer(const SweepCell& c) {
    std::string text;
    for (const auto& answer : model_answers(c)) {
        text += (text.empty() ? "" : " or ") + answer;
    }
    return text;
}

}  // namespace

std::string sweep_json(const SweepResult& result) {
    nlohmann::json cells = nlohmann::json::array();
    for (const auto& c : result.cells) {
        cells.push_back({{"file", c.file},
                         {"cs", c.cs},
                         {"insn_addr", c.insn_addr},
                         {"insn", c.insn_text},
                         {"in_sequence", c.in_sequence},
                         {"event", c.event},
                         {"reached", c.raised},
                         {"raised", c.raised},
                         {"skipped", c.skipped},
                         {"fired", c.fired},
                         {"guest_status", c.guest_status},
                         {"fired_icount", c.fired_icount},
                         {"vcpu", c.vcpu},
                         {"expected_abort", c.expected_abort},
                         {"may_abort", c.may_abort},
                         {"model", model_answers(c)},
                         {"aborted", optional_json(c.aborted)},
                         {"observed", c.observed() ? nlohmann::json(observed_word(c))
                                                   : nlohmann::json()},
                         {"invariant_ok", c.invariant_ok},
                         {"outcome", c.outcome},
                         // No verdict for a cell not reached.
                         {"ok", c.raised ? nlohmann::json(c.ok) : nlohmann::json()},
                         {"reproducer",
                          c.reproducer.empty() ? nlohmann::json() : nlohmann::json(c.reproducer)}});
    }
    return nlohmann::json{{"report", kSweepReport},
                          {"sweep", result.identity},
                          {"shard", result.shard.text()},
                          {"program_runs", result.program_runs},
                          {"reached", result.reached()},
                          {"failed", result.failed()},
                          {"notes", result.notes},
                          {"kernel_reports", result.kernel_reports},
                          {"findings", findings_json(result.findings)},
                          {"cells", cells}}
        .dump(1) + "\n";
}

SweepResult sweep_from_json(const nlohmann::json& report) {
    SweepResult result;
    result.identity = report.at("sweep");
    result.shard = parse_shard(report.at("shard").get<std::string>());
    result.program_runs = report.at("program_runs").get<size_t>();
    result.notes = report.at("notes").get<std::vector<std::string>>();
    result.kernel_reports = report.at("kernel_reports").get<std::vector<std::string>>();
    result.findings = findings_from_json(report);
    for (const auto& j : report.at("cells")) {
        SweepCell c;
        c.file = j.at("file").get<std::string>();
        c.cs = j.at("cs").get<uint64_t>();
        c.insn_addr = j.at("insn_addr").get<uint64_t>();
        c.insn_text = j.at("insn").get<std::string>();
        c.in_sequence = j.at("in_sequence").get<bool>();
        c.event = j.at("event").get<std::string>();
        c.raised = j.at("raised").get<bool>();
        c.skipped = j.at("skipped").get<bool>();
        c.fired = j.at("fired").get<bool>();
        c.guest_status = j.at("guest_status").get<std::string>();
        c.fired_icount = j.at("fired_icount").get<uint64_t>();
        c.vcpu = j.at("vcpu").get<int>();
        c.expected_abort = j.at("expected_abort").get<bool>();
        c.may_abort = j.at("may_abort").get<bool>();
        for (const auto& answer : j.at("model")) {
            auto verdict = models::parse_rseq_verdict(answer.get<std::string>());
            if (!verdict) {
                throw ConfigError("a cell's model answer '" + answer.get<std::string>() +
                                  "' is none the rseq model gives");
            }
            c.model.push_back(*verdict);
        }
        if (!j.at("aborted").is_null()) {
            c.aborted = j.at("aborted").get<bool>();
        }
        c.killed_by_sigsegv = j.at("observed") == "SIGSEGV";
        c.invariant_ok = j.at("invariant_ok").get<bool>();
        c.outcome = j.at("outcome").get<std::string>();
        c.ok = j.at("ok").is_boolean() && j.at("ok").get<bool>();
        c.reproducer = j.at("reproducer").is_null() ? "" : j.at("reproducer").get<std::string>();
        result.cells.push_back(c);
    }
    return result;
}

namespace {

// "preempt before 0x401824 (cmpl %edi, %fs:4(%rcx))"
// What a finding's trials do.
constexpr const char* kTogether = "break the program's check together";

std::string trial_text(const SweepCell& c) {
    return c.event + " before " + hex(c.insn_addr) + " (" + c.insn_text + ")";
}

// Colour and label of a cell: greens are right, red wrong, orange unknown,
// blue not reached by the workload, grey not carried out by the guest.
std::pair<const char*, std::string> verdict(const SweepCell& c) {
    if (c.skipped) {
        return {"#ffffff", c.outcome};
    }
    if (!c.raised) {
        return {"#c8d4ec", "not reached"};
    }
    if (!c.fired) {
        return {"#bbbbbb", "not carried out: " + c.outcome};
    }
    if (!c.observed()) {
        return {"#f0a030", c.outcome};
    }
    if (!c.ok) {
        return {"#e05050", "FAIL: " + std::string(observed_word(c)) + ", the model says " +
                               model_answer(c) + "; the program " + c.outcome};
    }
    if (c.killed_by_sigsegv) {
        return {"#2a7a8c", "SIGSEGV, as the model says: " + model_answer(c)};
    }
    if (*c.aborted && c.may_abort) {
        return {"#7cc4a0", "aborted: the fault blocked"};
    }
    return {*c.aborted ? "#3aa856" : "#a8dcb5", *c.aborted ? "aborted" : "committed"};
}

}  // namespace

std::string sweep_html(const SweepResult& result, const std::string& title) {
    const auto findings_of = findings_by_cell(result.findings, result.cells.size());
    std::vector<std::string> events;
    using Row = std::tuple<std::string, uint64_t, uint64_t>;  // file, section, instruction
    std::map<Row, std::map<std::string, const SweepCell*>> rows;
    std::vector<Row> order;
    for (const auto& c : result.cells) {
        if (std::find(events.begin(), events.end(), c.event) == events.end()) {
            events.push_back(c.event);
        }
        Row key{c.file, c.cs, c.insn_addr};
        if (!rows.count(key)) {
            order.push_back(key);
        }
        rows[key][c.event] = &c;
    }
    std::ostringstream h;
    h << html_page_start(title, "tr.cs td{background:#eee;font-weight:bold}"
                                "tr.finding:target td{background:#ffd}"
                                "ol{margin:0;padding-left:1.5em}")
      << "<p>" << result.cells.size() << " trials, "
      << result.reached() << " reached, " << result.failed() << " failed, "
      << result.findings.size() << " findings. Dark green: the event aborted the "
      << "sequence as it must; light green: committed as it must; mid green: a page fault "
      << "aborted it because handling the fault blocked (allowed inside the sequence); teal: "
      << "killed by SIGSEGV as the model (models/RseqRule) says (a bad descriptor or "
      << "signature); red: "
      << "wrong; orange: unknown (the thread reached neither the instruction nor the abort "
      << "handler before the program ended); blue: the workload never reached the instruction; "
      << "grey: the guest did not carry the event out. A cell in a finding (trials that "
      << "break the program's check only together) links to it.</p><table><tr><th>address</th>"
      << "<th>instruction</th>";
    for (const auto& e : events) {
        h << "<th>" << html_escape(e) << "</th>";
    }
    h << "</tr>";
    std::pair<std::string, uint64_t> current_cs{"", ~uint64_t(0)};
    for (const auto& key : order) {
        const auto& cells = rows[key];
        const SweepCell* any = cells.begin()->second;
        const auto& [file, cs, insn] = key;
        if (std::make_pair(file, cs) != current_cs) {
            current_cs = {file, cs};
            h << "<tr class=\"cs\"><td colspan=\"" << events.size() + 2
              << "\">critical section at " << hex(cs) << " in " << html_escape(file) << "</td></tr>";
        }
        h << "<tr><td class=\"i\">" << hex(insn) << "</td><td class=\"i\">"
          << html_escape(any->insn_text) << (any->in_sequence ? "" : " (post-commit)")
          << "</td>";
        for (const auto& e : events) {
            auto it = cells.find(e);
            if (it == cells.end()) {
                h << "<td></td>";
                continue;
            }
            const SweepCell& c = *it->second;
            auto [colour, label] = verdict(c);
            h << "<td style=\"background:" << colour << "\" title=\"icount " << c.fired_icount
              << ", vCPU " << c.vcpu << "\">" << html_escape(label);
            const auto& findings = findings_of[size_t(&c - result.cells.data())];
            h << finding_links(findings);
            // A finding's reproducer is in its row below.
            if (c.raised && !c.ok && findings.empty() && !c.reproducer.empty()) {
                h << "<br>reproducer: " << html_escape(c.reproducer);
            }
            h << "</td>";
        }
        h << "</tr>";
    }
    h << "</table>";
    h << findings_html(
        result.findings, kTogether,
        [&](size_t cell) { return trial_text(result.cells[cell]) + " in " + result.cells[cell].file; },
        [&](size_t cell) { return result.cells[cell].reproducer; });
    h << kHtmlPageEnd;
    return h.str();
}

namespace {

__attribute__((format(printf, 2, 3))) void append(std::string& out, const char* format, ...) {
    va_list args, again;
    va_start(args, format);
    va_copy(again, args);
    int size = std::vsnprintf(nullptr, 0, format, args);
    va_end(args);
    std::string text(size_t(size) + 1, '\0');
    std::vsnprintf(text.data(), text.size(), format, again);
    va_end(again);
    text.pop_back();
    out += text;
}

}  // namespace

std::vector<JunitCase> sweep_junit_cases(const SweepResult& result) {
    using V = JunitCase::Verdict;
    std::vector<JunitCase> cases;
    for (const auto& c : result.cells) {
        JunitCase k;
        k.classname = c.file + " sequence " + hex(c.cs);
        k.name = c.event + " before " + hex(c.insn_addr) + " " + c.insn_text;
        if (c.skipped || !c.raised) {
            k.verdict = V::skipped;
            k.message = c.skipped ? c.outcome : kJunitNotReached;
        } else if (!c.ok) {
            k.verdict = V::failed;
            k.message = std::string("observed ") + observed_word(c) + ", the model says " +
                        model_answer(c) + "; the program " + c.outcome;
            k.details = c.reproducer.empty() ? "" : "reproducer: " + c.reproducer;
        }
        cases.push_back(k);
    }
    std::vector<JunitCase> findings = findings_junit_cases(
        result.findings, kTogether, [&](size_t cell) { return trial_text(result.cells[cell]); });
    cases.insert(cases.end(), findings.begin(), findings.end());
    return cases;
}

std::string sweep_table(const SweepResult& result, const std::vector<std::string>& events) {
    std::string t;
    append(t, "%-10s %-28s", "address", "instruction");
    for (const auto& e : events) {
        append(t, " %-12s", e.c_str());
    }
    t += "\n";
    for (size_t i = 0; i < result.cells.size(); i += events.size()) {
        const auto& row = result.cells[i];
        if (i == 0 || row.file != result.cells[i - 1].file) {
            append(t, "%s\n", row.file.c_str());
        }
        append(t, "%#-10llx %-28s", (unsigned long long)row.insn_addr, row.insn_text.c_str());
        for (size_t k = 0; k < events.size(); ++k) {
            const auto& c = result.cells[i + k];
            const char* word = c.skipped ? "skipped"
                               : !c.raised ? "not-reached"
                               : !c.fired  ? "dropped"
                                           : observed_word(c);
            append(t, " %-12s", (std::string(word) + (c.ok || !c.raised ? "" : " FAIL")).c_str());
        }
        t += "\n";
    }
    append(t, "%zu trials in %zu program runs, %zu failed, %zu findings", result.cells.size(),
           result.program_runs, result.failed(), result.findings.size());
    if (result.trials_per_s > 0) {
        append(t, ", %.1f trials/s", result.trials_per_s);
    }
    t += "\n";
    append(t, "reached %zu of %zu cells\n", result.reached(), result.cells.size());
    for (const auto& note : result.notes) {
        append(t, "note: %s\n", note.c_str());
    }
    t += findings_text(result.findings, kTogether,
                       [&](size_t cell) { return trial_text(result.cells[cell]); });
    for (const auto& c : result.cells) {
        if (c.raised && !c.ok) {
            append(t, "FAIL %s: %s; fired=%d observed=%s model=%s\n", trial_text(c).c_str(),
                   c.outcome.c_str(), c.fired, observed_word(c), model_answer(c).c_str());
            if (!c.reproducer.empty()) {
                append(t, "     reproducer: %s\n", c.reproducer.c_str());
            }
        }
    }
    return t;
}

}  // namespace faultline
