// Splitting a sweep's cells or an exploration's runs over machines: shard
// I of N takes the I-th of N contiguous, near-equal ranges of the work, in
// plan order, so the N shards together do every part once and the split
// depends on nothing but the plan.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace faultline {

struct Shard {
    uint32_t index = 1;  // from 1
    uint32_t count = 1;

    std::string text() const { return std::to_string(index) + "/" + std::to_string(count); }
    // [begin, end) of this shard's part of total items in order.
    std::pair<size_t, size_t> range(size_t total) const {
        return {total * (index - 1) / count, total * index / count};
    }
};

// "I/N" with 1 <= I <= N; ConfigError naming what is wrong otherwise.
Shard parse_shard(const std::string& text);

}  // namespace faultline
