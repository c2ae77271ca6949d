#include "faultline/campaign/merge.hpp"

#include <algorithm>
#include <map>

#include "faultline/campaign/sweep_report.hpp"
#include "faultline/machine/errors.hpp"

namespace faultline {

namespace {

// "sweep/machine/kernel_sha256 is "ab12..." in a.json and "cd34..." in
// b.json": the first place two identities differ (a JSON patch's first).
std::string first_difference(const ShardReport& here, const nlohmann::json& here_identity,
                             const ShardReport& there, const nlohmann::json& there_identity) {
    nlohmann::json patch = nlohmann::json::diff(here_identity, there_identity);
    std::string pointer = patch.at(0).at("path").get<std::string>();
    nlohmann::json::json_pointer at(pointer);
    auto value = [&](const nlohmann::json& identity) {
        return identity.contains(at) ? identity.at(at).dump() : std::string("absent");
    };
    return "sweep" + pointer + " is " + value(here_identity) + " in " + here.path + " and " +
           value(there_identity) + " in " + there.path;
}

void add_once(std::vector<std::string>& to, const std::vector<std::string>& items) {
    for (const auto& item : items) {
        if (std::find(to.begin(), to.end(), item) == to.end()) {
            to.push_back(item);
        }
    }
}

}  // namespace

SweepResult merge_sweep_shards(const std::vector<ShardReport>& shards) {
    if (shards.empty()) {
        throw ConfigError("no shard reports to merge");
    }
    std::vector<SweepResult> results;
    for (const auto& shard : shards) {
        try {
            results.push_back(sweep_from_json(shard.text));
        } catch (const std::exception& e) {
            throw ConfigError(shard.path + ": not a faultline sweep report: " + e.what());
        }
    }
    const SweepResult& first = results.front();
    std::map<uint32_t, size_t> by_index;
    for (size_t k = 0; k < results.size(); ++k) {
        const SweepResult& r = results[k];
        if (r.identity != first.identity) {
            throw ConfigError("shards of different sweeps: " +
                              first_difference(shards.front(), first.identity, shards[k],
                                               r.identity));
        }
        if (r.shard.count != first.shard.count) {
            throw ConfigError(shards.front().path + " is shard " + first.shard.text() + " and " +
                              shards[k].path + " shard " + r.shard.text() +
                              ": shards of different splits");
        }
        auto [given, fresh] = by_index.emplace(r.shard.index, k);
        if (!fresh) {
            throw ConfigError("shard " + r.shard.text() + " is given twice: " +
                              shards[given->second].path + " and " + shards[k].path);
        }
    }
    std::string missing;
    for (uint32_t index = 1; index <= first.shard.count; ++index) {
        if (!by_index.count(index)) {
            missing += (missing.empty() ? "" : ", ") + Shard{index, first.shard.count}.text();
        }
    }
    if (!missing.empty()) {
        throw ConfigError("shard" + std::string(missing.find(',') == missing.npos ? " " : "s ") +
                          missing + " missing: the union would not be the whole sweep");
    }
    SweepResult merged;
    merged.identity = first.identity;
    for (const auto& [index, k] : by_index) {
        const SweepResult& r = results[k];
        const size_t offset = merged.cells.size();
        merged.cells.insert(merged.cells.end(), r.cells.begin(), r.cells.end());
        // A shard numbers its findings from 1, and its cells say so: each
        // number goes up by the findings before the shard, the highest first
        // so that no number is raised twice.
        const size_t before = merged.findings.size();
        for (size_t k = r.findings.size(); k-- > 0;) {
            for (size_t cell : r.findings[k].cells) {
                std::string& outcome = merged.cells[offset + cell].outcome;
                const std::string in_shard = finding_mention(k + 1);
                size_t at = outcome.find(in_shard);
                if (at != std::string::npos) {
                    outcome.replace(at, in_shard.size(), finding_mention(before + k + 1));
                }
            }
        }
        for (SweepFinding finding : r.findings) {
            for (size_t& cell : finding.cells) {
                cell += offset;
            }
            merged.findings.push_back(finding);
        }
        merged.program_runs += r.program_runs;
        add_once(merged.notes, r.notes);
        add_once(merged.kernel_reports, r.kernel_reports);
    }
    return merged;
}

}  // namespace faultline
