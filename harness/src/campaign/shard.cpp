#include "faultline/campaign/shard.hpp"

#include "faultline/machine/errors.hpp"

namespace faultline {

namespace {

// A decimal number that fits 32 bits, the whole of text.
bool parse_count(const std::string& text, uint32_t& out) {
    if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != text.npos) {
        return false;
    }
    out = uint32_t(std::stoul(text));
    return true;
}

}  // namespace

Shard parse_shard(const std::string& text) {
    size_t slash = text.find('/');
    Shard shard;
    if (slash == text.npos || !parse_count(text.substr(0, slash), shard.index) ||
        !parse_count(text.substr(slash + 1), shard.count)) {
        throw ConfigError("--shard '" + text + "': expected I/N, e.g. 2/3");
    }
    if (shard.count < 1) {
        throw ConfigError("--shard '" + text + "': N must be at least 1");
    }
    if (shard.index < 1 || shard.index > shard.count) {
        throw ConfigError("--shard '" + text + "': I must be from 1 to N");
    }
    return shard;
}

}  // namespace faultline
