#include "faultline/campaign/merge.hpp"

#include <algorithm>
#include <map>

#include "faultline/campaign/findings.hpp"
#include "faultline/campaign/sweep_report.hpp"
#include "faultline/machine/errors.hpp"

namespace faultline {

namespace {

// "sweep/machine/kernel_sha256 is "ab12..." in a.json and "cd34..." in
// b.json": the first place two identities of a work (the report's key that
// holds them) differ, a JSON patch's first.
std::string first_difference(const std::string& key, const ShardReport& here,
                             const nlohmann::json& here_identity, const ShardReport& there,
                             const nlohmann::json& there_identity) {
    nlohmann::json patch = nlohmann::json::diff(here_identity, there_identity);
    std::string pointer = patch.at(0).at("path").get<std::string>();
    nlohmann::json::json_pointer at(pointer);
    auto value = [&](const nlohmann::json& identity) {
        return identity.contains(at) ? identity.at(at).dump() : std::string("absent");
    };
    return key + pointer + " is " + value(here_identity) + " in " + here.path + " and " +
           value(there_identity) + " in " + there.path;
}

void add_once(std::vector<std::string>& to, const std::vector<std::string>& items) {
    for (const auto& item : items) {
        if (std::find(to.begin(), to.end(), item) == to.end()) {
            to.push_back(item);
        }
    }
}

// Each report read by from_json, checked to be a report of that command
// (its "report" field); ConfigError naming the file that is not.
template <typename Result, typename FromJson>
std::vector<Result> read_shards(const std::vector<ShardReport>& shards, const char* command,
                                FromJson from_json) {
    if (shards.empty()) {
        throw ConfigError("no shard reports to merge");
    }
    std::vector<Result> results;
    for (const auto& shard : shards) {
        try {
            nlohmann::json report = nlohmann::json::parse(shard.text);
            if (!report.is_object() || report.value("report", "") != command) {
                throw ConfigError(std::string("not a report of ") + command + " (its \"report\" is not \"" +
                                  command + "\")");
            }
            results.push_back(from_json(report));
        } catch (const std::exception& e) {
            throw ConfigError(shard.path + ": not a " + command + " report: " + e.what());
        }
    }
    return results;
}

// The shards in order of their index, checked to be every shard of one
// split of one piece of work (a "sweep", its identity under that key in a
// report): results[k] is shards[k]'s, shard_of(results[k]) its split.
template <typename Result, typename ShardOf>
std::vector<size_t> whole_split(const std::vector<ShardReport>& shards,
                                const std::vector<Result>& results, ShardOf shard_of,
                                const std::string& work, const std::string& key) {
    std::vector<const nlohmann::json*> identities;
    std::vector<Shard> splits;
    for (const auto& r : results) {
        identities.push_back(&r.identity);
        splits.push_back(shard_of(r));
    }
    std::map<uint32_t, size_t> by_index;
    for (size_t k = 0; k < shards.size(); ++k) {
        if (*identities[k] != *identities.front()) {
            throw ConfigError("shards of different " + work + "s: " +
                              first_difference(key, shards.front(), *identities.front(),
                                               shards[k], *identities[k]));
        }
        if (splits[k].count != splits.front().count) {
            throw ConfigError(shards.front().path + " is shard " + splits.front().text() + " and " +
                              shards[k].path + " shard " + splits[k].text() +
                              ": shards of different splits");
        }
        auto [given, fresh] = by_index.emplace(splits[k].index, k);
        if (!fresh) {
            throw ConfigError("shard " + splits[k].text() + " is given twice: " +
                              shards[given->second].path + " and " + shards[k].path);
        }
    }
    std::string missing;
    for (uint32_t index = 1; index <= splits.front().count; ++index) {
        if (!by_index.count(index)) {
            missing += (missing.empty() ? "" : ", ") + Shard{index, splits.front().count}.text();
        }
    }
    if (!missing.empty()) {
        throw ConfigError("shard" + std::string(missing.find(',') == missing.npos ? " " : "s ") +
                          missing + " missing: the union would not be the whole " + work);
    }
    std::vector<size_t> order;
    for (const auto& [index, k] : by_index) {
        order.push_back(k);
    }
    return order;
}

// A sweep's shards (rseq or kernel) made into the whole sweep's result: the
// cells in plan order, each shard's findings after those before it, the
// program runs summed, each note once; also(merged, shard) adds what else
// Result has, shard by shard in their order. Result has those fields,
// identity and shard.
template <typename Result, typename FromJson, typename Also>
Result merge_cell_shards(const std::vector<ShardReport>& shards, const char* command,
                         FromJson from_json, const std::string& work, Also also) {
    std::vector<Result> results = read_shards<Result>(shards, command, from_json);
    Result merged;
    merged.identity = results.front().identity;
    auto shard_of = [](const Result& r) { return r.shard; };
    for (size_t k : whole_split(shards, results, shard_of, work, "sweep")) {
        const Result& r = results[k];
        const size_t offset = merged.cells.size();
        merged.cells.insert(merged.cells.end(), r.cells.begin(), r.cells.end());
        append_shard_findings(merged.findings, r.findings, offset,
                              [&](size_t cell) -> std::string& { return merged.cells[cell].outcome; });
        merged.program_runs += r.program_runs;
        add_once(merged.notes, r.notes);
        also(merged, r);
    }
    return merged;
}

}  // namespace

SweepResult merge_sweep_shards(const std::vector<ShardReport>& shards) {
    return merge_cell_shards<SweepResult>(
        shards, kSweepReport, sweep_from_json, "sweep",
        [](SweepResult& merged, const SweepResult& r) {
            add_once(merged.kernel_reports, r.kernel_reports);
        });
}

KernelSweepResult merge_kernel_sweep_shards(const std::vector<ShardReport>& shards) {
    return merge_cell_shards<KernelSweepResult>(shards, kKernelSweepReport, kernel_sweep_from_json,
                                                "kernel sweep",
                                                [](KernelSweepResult&, const KernelSweepResult&) {});
}

ExploreResult merge_explore_shards(const std::vector<ShardReport>& shards) {
    std::vector<ExploreResult> results =
        read_shards<ExploreResult>(shards, kExploreReport, explore_from_json);
    auto shard_of = [](const ExploreResult& r) { return r.config.shard; };
    const std::vector<size_t> order =
        whole_split(shards, results, shard_of, "exploration", "explore");
    ExploreResult merged = results[order.front()];
    merged.config.shard = Shard{};
    merged.first_run = 0;
    merged.end_run = merged.config.runs;
    for (size_t k : std::vector<size_t>(order.begin() + 1, order.end())) {
        const ExploreResult& r = results[k];
        merged.failed_runs += r.failed_runs;
        // Each shard runs its own baseline; the whole exploration one.
        merged.program_runs += r.program_runs - 1;
        for (const ExploreFinding& finding : r.findings) {
            auto known = std::find_if(merged.findings.begin(), merged.findings.end(),
                                      [&](const ExploreFinding& f) {
                                          return f.schedule == finding.schedule;
                                      });
            if (known == merged.findings.end()) {
                merged.findings.push_back(finding);
                continue;
            }
            // The whole exploration knew this schedule from an earlier
            // run: it is one more run of that finding, and the run of the
            // minimal schedule this shard made for it is not made there.
            known->also_runs.push_back(finding.run);
            known->also_runs.insert(known->also_runs.end(), finding.also_runs.begin(),
                                    finding.also_runs.end());
            merged.program_runs -= 1;
        }
        add_once(merged.kernel_reports, r.kernel_reports);
    }
    return merged;
}

}  // namespace faultline
