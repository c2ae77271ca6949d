// faultline merge: the JSON reports of a sweep's or an exploration's shards
// made into the unsharded one's table, JSON, HTML and JUnit, with its exit
// status.
#include "cli.hpp"
#include <nlohmann/json.hpp>

#include "faultline/campaign/merge.hpp"
#include "faultline/campaign/sweep_report.hpp"
#include "faultline/machine/errors.hpp"
#include "faultline/machine/files.hpp"

namespace faultline::cli {

namespace {

std::string synopsis() {
    return "faultline merge SHARD.json... [--json FILE] [--html FILE] [--junit FILE]\n"
           "                       [--require-coverage PCT]\n";
}

std::string notes() {
    return "merge takes the --json reports of `faultline sweep --shard I/N` (an rseq\n"
           "or a kernel sweep) or of explore, one for each I from 1 to N, and writes\n"
           "what the unsharded command writes: the same table, the same JSON byte for\n"
           "byte, the same HTML and JUnit, the same exit status. Shards of different\n"
           "programs, files, functions, events or machines, a shard twice and a shard\n"
           "missing are refused, naming which.\n";
}

int merge(const Options& o) {
    if (o.shard_reports.empty()) {
        throw UsageError{"merge needs the shards' JSON reports"};
    }
    std::vector<ShardReport> shards;
    for (const auto& path : o.shard_reports) {
        std::optional<std::string> text = file_bytes(path);
        if (!text) {
            throw ConfigError(path + ": cannot be read");
        }
        shards.push_back({path, *text});
    }
    // The first report says which command's shards these are; merging
    // checks every other is one of them.
    std::string command;
    try {
        command = nlohmann::json::parse(shards.front().text).value("report", "");
    } catch (const nlohmann::json::exception&) {
    }
    if (command == kExploreReport) {
        if (!o.html_file.empty()) {
            throw UsageError{"--html: an exploration has no HTML report"};
        }
        return report_explore(o, merge_explore_shards(shards));
    }
    if (command == kKernelSweepReport) {
        if (o.require_coverage != 0) {
            throw UsageError{"--require-coverage is for an rseq sweep's shards"};
        }
        return report_kernel_sweep(o, merge_kernel_sweep_shards(shards));
    }
    return report_sweep(o, merge_sweep_shards(shards));
}

}  // namespace

const Command merge_command{"merge", synopsis, notes, merge};

}  // namespace faultline::cli
