// The reports of a sweep's result, apart from the sweep that made it: JSON
// for programs, HTML for a person's eyes, the table the CLI prints.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "faultline/campaign/junit.hpp"
#include "faultline/campaign/sweep.hpp"

namespace faultline {

// The JSON report's "report": what merge and others tell it by.
inline constexpr const char* kSweepReport = "faultline sweep";

// The same result gives the same bytes: no timing is in it.
std::string sweep_json(const SweepResult& result);
// The result a sweep_json() report holds (trials_per_s 0). Throws
// ConfigError, or nlohmann::json's errors for a field missing or of the
// wrong type.
SweepResult sweep_from_json(const nlohmann::json& report);
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
