// Findings: sets of trials that fail only together, as delta debugging
// leaves them (each is a SweepFinding: cells, how the run ended, the runs it
// took). The rseq sweep and the kernel sweep report them alike: in JSON, in
// the table, on the HTML page and as JUnit cases, renumbered by a merge.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "faultline/campaign/junit.hpp"
#include "faultline/campaign/sweep.hpp"

namespace faultline {

// A cell by its index in its result: a trial's text, or its reproducer.
using CellText = std::function<std::string(size_t cell)>;

nlohmann::json findings_json(const std::vector<SweepFinding>& findings);
// A report's "findings", each naming cells of its "cells": ConfigError
// for a cell it does not have.
std::vector<SweepFinding> findings_from_json(const nlohmann::json& report);

// A shard's findings after those merged so far, their cells moved by
// offset; a shard numbers its findings from 1 and its cells' outcomes say
// so (finding_mention), so those numbers go up to match. outcome gives a
// merged cell's outcome to edit.
void append_shard_findings(std::vector<SweepFinding>& merged,
                           const std::vector<SweepFinding>& shard, size_t offset,
                           const std::function<std::string&(size_t merged_cell)>& outcome);

// Each finding's line: "finding K: N trials <together>, none alone (R runs
// to minimize; the program OUTCOME): trial; trial...". together says what
// the trials do: "break the program's check together".
std::string findings_text(const std::vector<SweepFinding>& findings, const std::string& together,
                          const CellText& trial);
// Which findings each of a result's cells is in, numbered from 1.
std::vector<std::vector<size_t>> findings_by_cell(const std::vector<SweepFinding>& findings,
                                                  size_t cells);
// A grid cell's links to the findings it is in, each on a line of its own.
std::string finding_links(const std::vector<size_t>& numbers);
// The findings' table under a report's grid (id finding-K, which cells
// link to); empty when there are none.
std::string findings_html(const std::vector<SweepFinding>& findings, const std::string& together,
                          const CellText& trial, const CellText& reproducer);
// A failed case per finding, class "findings".
std::vector<JunitCase> findings_junit_cases(const std::vector<SweepFinding>& findings,
                                            const std::string& together, const CellText& trial);

}  // namespace faultline
