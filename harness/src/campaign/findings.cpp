#include "faultline/campaign/findings.hpp"

#include "faultline/campaign/report_text.hpp"
#include "faultline/machine/errors.hpp"

namespace faultline {

nlohmann::json findings_json(const std::vector<SweepFinding>& findings) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& f : findings) {
        out.push_back({{"cells", f.cells}, {"outcome", f.outcome}, {"tests", f.tests}});
    }
    return out;
}

std::vector<SweepFinding> findings_from_json(const nlohmann::json& report) {
    std::vector<SweepFinding> findings;
    const size_t cells = report.at("cells").size();
    for (const auto& f : report.at("findings")) {
        SweepFinding finding{f.at("cells").get<std::vector<size_t>>(),
                             f.at("outcome").get<std::string>(), f.at("tests").get<size_t>()};
        for (size_t cell : finding.cells) {
            if (cell >= cells) {
                throw ConfigError("a finding names cell " + std::to_string(cell) + " of " +
                                  std::to_string(cells));
            }
        }
        findings.push_back(finding);
    }
    return findings;
}

void append_shard_findings(std::vector<SweepFinding>& merged,
                           const std::vector<SweepFinding>& shard, size_t offset,
                           const std::function<std::string&(size_t merged_cell)>& outcome) {
    // The highest number first, so that no number is raised twice.
    const size_t before = merged.size();
    for (size_t f = shard.size(); f-- > 0;) {
        for (size_t cell : shard[f].cells) {
            std::string& text = outcome(offset + cell);
            const std::string in_shard = finding_mention(f + 1);
            size_t at = text.find(in_shard);
            if (at != std::string::npos) {
                text.replace(at, in_shard.size(), finding_mention(before + f + 1));
            }
        }
    }
    for (SweepFinding finding : shard) {
        for (size_t& cell : finding.cells) {
            cell += offset;
        }
        merged.push_back(finding);
    }
}

std::string findings_text(const std::vector<SweepFinding>& findings, const std::string& together,
                          const CellText& trial) {
    std::string t;
    for (size_t k = 0; k < findings.size(); ++k) {
        const SweepFinding& f = findings[k];
        t += "finding " + std::to_string(k + 1) + ": " + std::to_string(f.cells.size()) +
             " trials " + together + ", none alone (" + std::to_string(f.tests) +
             " runs to minimize; the program " + f.outcome + "):";
        for (size_t cell : f.cells) {
            t += (cell == f.cells.front() ? " " : "; ") + trial(cell);
        }
        t += "\n";
    }
    return t;
}

std::vector<std::vector<size_t>> findings_by_cell(const std::vector<SweepFinding>& findings,
                                                  size_t cells) {
    std::vector<std::vector<size_t>> of(cells);
    for (size_t k = 0; k < findings.size(); ++k) {
        for (size_t cell : findings[k].cells) {
            of[cell].push_back(k + 1);
        }
    }
    return of;
}

std::string finding_links(const std::vector<size_t>& numbers) {
    std::string links;
    for (size_t k : numbers) {
        links += "<br><a href=\"#finding-" + std::to_string(k) + "\">finding " +
                 std::to_string(k) + "</a>";
    }
    return links;
}

std::string findings_html(const std::vector<SweepFinding>& findings, const std::string& together,
                          const CellText& trial, const CellText& reproducer) {
    if (findings.empty()) {
        return "";
    }
    std::string h = "<h2>Findings</h2><p>Trials that " + html_escape(together) +
                    ", none alone, and none of which can be left out (delta debugging, each "
                    "test a program run). Each cell keeps the verdict of its own lone run."
                    "</p><table><tr><th>finding</th><th>trials, in firing order</th>"
                    "<th>the program</th><th>runs to minimize</th><th>reproducer</th></tr>";
    for (size_t k = 0; k < findings.size(); ++k) {
        const SweepFinding& f = findings[k];
        h += "<tr class=\"finding\" id=\"finding-" + std::to_string(k + 1) + "\"><td>" +
             std::to_string(k + 1) + "</td><td><ol>";
        for (size_t cell : f.cells) {
            h += "<li>" + html_escape(trial(cell)) + "</li>";
        }
        // Every member has the finding's reproducer.
        h += "</ol></td><td>" + html_escape(f.outcome) + "</td><td>" + std::to_string(f.tests) +
             "</td><td>" + html_escape(reproducer(f.cells.front())) + "</td></tr>";
    }
    return h + "</table>";
}

std::vector<JunitCase> findings_junit_cases(const std::vector<SweepFinding>& findings,
                                            const std::string& together, const CellText& trial) {
    std::vector<JunitCase> cases;
    for (size_t n = 0; n < findings.size(); ++n) {
        const SweepFinding& f = findings[n];
        JunitCase k;
        k.classname = "findings";
        k.name = "finding " + std::to_string(n + 1);
        k.verdict = JunitCase::Verdict::failed;
        k.message = std::to_string(f.cells.size()) + " trials " + together +
                    ", none alone; the program " + f.outcome;
        for (size_t cell : f.cells) {
            k.details += trial(cell) + "\n";
        }
        cases.push_back(k);
    }
    return cases;
}

}  // namespace faultline
