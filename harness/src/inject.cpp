#include "faultline/inject.hpp"

#include <algorithm>

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
    case Kind::page_fault:
        return "page_fault";
    case Kind::none:
        return "none";
    }
    return "unknown";
}

namespace {

// FaultlineEvent in the QAPI schema: the same names, spelt with dashes.
std::string qmp_event_name(const Event& event) {
    std::string name = event.name();
    std::replace(name.begin(), name.end(), '_', '-');
    return name;
}

}  // namespace

// Terse on purpose: QEMU's monitor reads its input a byte at a time (about
// 3 us each), so defaults are left out and the address space is named once.
nlohmann::json faultline_arm_arguments(const std::vector<ScheduleEntry>& schedule) {
    uint64_t cr3 = schedule.empty() ? 0 : schedule.front().trigger.cr3;
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& e : schedule) {
        if (e.trigger.hit == 0) {
            throw ConfigError("trigger hit counts start at 1");
        }
        if (e.watch == e.trigger.vaddr) {
            throw ConfigError("a watch address must differ from its trigger's");
        }
        nlohmann::json entry{{"vaddr", e.trigger.vaddr}, {"event", qmp_event_name(e.event)}};
        if (e.trigger.cr3 != cr3) {
            entry["cr3"] = e.trigger.cr3;
        }
        if (e.trigger.hit != 1) {
            entry["hit"] = e.trigger.hit;
        }
        // All ones is the device's default target (next CPU, trigger's page).
        bool takes_arg = e.event.kind == Event::Kind::signal ||
                         e.event.kind == Event::Kind::migrate ||
                         e.event.kind == Event::Kind::page_fault;
        if (takes_arg && e.event.arg != ~uint64_t(0)) {
            entry["arg"] = e.event.arg;
        }
        if (e.watch != 0) {
            entry["watch"] = e.watch;
        }
        entries.push_back(entry);
    }
    return {{"cr3", cr3}, {"entries", entries}};
}

std::vector<Firing> firings_of(const nlohmann::json& reply) {
    std::vector<Firing> firings;
    try {
        for (const auto& f : reply.at("firings")) {
            firings.push_back({f.at("entry").get<uint32_t>(), f.at("icount").get<uint64_t>(),
                               f.at("cpu").get<int>(), f.at("rip").get<uint64_t>(),
                               f.value("next-rip", uint64_t(0)),
                               f.value("next-icount", uint64_t(0)),
                               f.at("confirmed").get<bool>(),
                               f.value("status", std::string())});
        }
    } catch (const nlohmann::json::exception& e) {
        throw QmpError("query-faultline: unreadable reply " + reply.dump() + ": " + e.what());
    }
    return firings;
}

}  // namespace faultline
