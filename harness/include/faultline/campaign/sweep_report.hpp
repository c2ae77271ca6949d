// The reports of a sweep's result, apart from the sweep that made it: JSON
// for programs, HTML for a person's eyes, the table the CLI prints.
#pragma once

#include <string>
#include <vector>

#include "faultline/campaign/junit.hpp"
#include "faultline/campaign/sweep.hpp"

namespace faultline {

std::string sweep_json(const SweepResult& result);
// A table a person reads at a glance: instructions down, events across,
// each cell coloured by verdict.
std::string sweep_html(const SweepResult& result, const std::string& title);
// Instructions down, events across (the sweep's events, in its order), one
// word per cell; then the totals, and one line for each failed cell.
std::string sweep_table(const SweepResult& result, const std::vector<std::string>& events);
// --junit: one case a cell (not reached or left out: skipped, without a
// verdict), then one failed case a finding.
std::vector<JunitCase> sweep_junit_cases(const SweepResult& result);

}  // namespace faultline
