#include "faultline/inject.hpp"

#include <sstream>

#include "faultline/errors.hpp"

namespace faultline {

std::string Event::name() const {
    switch (kind) {
    case Kind::preempt:
        return "preempt";
    case Kind::signal:
        return "signal";
    case Kind::migrate:
        return "migrate";
    case Kind::observe:
        return "observe";
    }
    return "unknown";
}

std::string encode_schedule(const std::vector<ScheduleEntry>& schedule) {
    std::ostringstream out;
    for (const auto& e : schedule) {
        if (e.trigger.hit == 0) {
            throw ConfigError("trigger hit counts start at 1");
        }
        out << std::hex << e.trigger.vaddr << ' ' << e.trigger.cr3 << std::dec << ' '
            << e.trigger.hit << ' ' << uint32_t(e.event.kind) << ' ' << e.event.arg << ';';
    }
    return out.str();
}

std::vector<Firing> decode_firings(const std::string& text) {
    std::vector<Firing> firings;
    std::istringstream items(text);
    std::string item;
    while (std::getline(items, item, ';')) {
        if (item.empty()) {
            continue;
        }
        std::istringstream fields(item);
        Firing f;
        if (!(fields >> f.entry >> f.icount >> f.vcpu >> std::hex >> f.rip)) {
            throw QmpError("faultline-inject: unreadable firing '" + item + "'");
        }
        firings.push_back(f);
    }
    return firings;
}

}  // namespace faultline
