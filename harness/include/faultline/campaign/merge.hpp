// faultline merge: the reports of a sweep's (rseq or kernel) or an
// exploration's shards
// (--shard I/N) made into the report of the unsharded one. A shard runs whole run groups
// (kRowsPerRunGroup), so each of its cells is the unsharded sweep's cell,
// firing icount included, and their union is that sweep's result.
#pragma once

#include <string>
#include <vector>

#include "faultline/campaign/explore.hpp"
#include "faultline/campaign/kernel_sweep.hpp"
#include "faultline/campaign/sweep.hpp"

namespace faultline {

// A report as read: its file's name, for messages, and its text.
struct ShardReport {
    std::string path;
    std::string text;
};

// The unsharded result: the shards' cells in plan order, their findings,
// notes and kernel reports, and the sum of their program runs. Throws
// ConfigError naming the file and what is wrong: no shards, a file that is
// not a sweep report, shards of different sweeps (naming what differs) or
// of different splits, a shard given twice, a shard missing.
SweepResult merge_sweep_shards(const std::vector<ShardReport>& shards);
// The same for a kernel sweep's shards (sweep --kernel-function --shard
// I/N): their cells in plan order, findings renumbered, notes, and the sum
// of program runs.
KernelSweepResult merge_kernel_sweep_shards(const std::vector<ShardReport>& shards);
// The unsharded exploration's result from its shards' (--shard I/N of the
// runs): run k's schedule depends on (seed, k) alone. A finding of a later
// shard whose minimal schedule an earlier one found is that finding's
// further run, as the whole exploration reports it.
ExploreResult merge_explore_shards(const std::vector<ShardReport>& shards);

}  // namespace faultline
