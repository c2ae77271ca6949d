// faultline merge: the JSON reports of a sweep's shards made into the
// unsharded sweep's table, JSON, HTML and JUnit, with its exit status.
#include "cli.hpp"
#include "faultline/campaign/merge.hpp"
#include "faultline/machine/errors.hpp"
#include "faultline/machine/files.hpp"

namespace faultline::cli {

namespace {

std::string synopsis() {
    return "faultline merge SHARD.json... [--json FILE] [--html FILE] [--junit FILE]\n"
           "                       [--require-coverage PCT]\n";
}

std::string notes() {
    return "merge takes the --json reports of `faultline sweep --shard I/N`, one for\n"
           "each I from 1 to N, and writes what the unsharded sweep writes: the same\n"
           "table, the same JSON byte for byte, the same HTML and JUnit, the same exit\n"
           "status. Shards of different programs, files, events or machines, a shard\n"
           "twice and a shard missing are refused, naming which.\n";
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
    return report_sweep(o, merge_sweep_shards(shards));
}

}  // namespace

const Command merge_command{"merge", synopsis, notes, merge};

}  // namespace faultline::cli
