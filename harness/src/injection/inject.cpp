#include "faultline/injection/inject.hpp"

#include "faultline/machine/errors.hpp"

namespace faultline {

const std::vector<EventKind>& event_kinds() {
#define FAULTLINE_KIND_ROW(code, ID, name, qmp_name, arg, rseq) \
    {Event::Kind::name, #name, qmp_name, arg, rseq},
    static const std::vector<EventKind> kinds = {FAULTLINE_EVENTS(FAULTLINE_KIND_ROW)};
#undef FAULTLINE_KIND_ROW
    return kinds;
}

uint64_t EventKind::sweep_arg(int signo) const {
    return arg == FAULTLINE_ARG_SIGNAL ? uint64_t(signo) : FAULTLINE_ARG_DEFAULT;
}

uint32_t EventKind::slack_ms() const {
    return rseq_event == FAULTLINE_RSEQ_PAGE_FAULT_THAT_BLOCKS ? 20 : 1;
}

uint32_t run_budget_ms(uint64_t baseline_icount, const std::vector<Event::Kind>& events,
                       uint32_t limit) {
    constexpr uint64_t kRunMs = 20;
    uint64_t ms = 2 * ((baseline_icount + 999'999) / 1'000'000) + kRunMs;
    for (Event::Kind kind : events) {
        ms += event_kind(kind).slack_ms();
    }
    return limit != 0 && ms > limit ? limit : uint32_t(ms);
}

const EventKind& event_kind(Event::Kind kind) {
    for (const auto& k : event_kinds()) {
        if (k.kind == kind) {
            return k;
        }
    }
    throw Error("event kind missing from event_kinds()");
}

const EventKind& event_kind_named(const std::string& name) {
    std::string known;
    for (const auto& k : event_kinds()) {
        if (k.name == name) {
            return k;
        }
        known += (known.empty() ? "" : ",") + std::string(k.name);
    }
    throw ConfigError("unknown event '" + name + "' (" + known + ")");
}

std::vector<std::string> swept_event_names() {
    std::vector<std::string> names;
    for (const auto& k : event_kinds()) {
        if (k.swept()) {
            names.emplace_back(k.name);
        }
    }
    return names;
}

std::string swept_event_list() {
    std::string list;
    for (const auto& name : swept_event_names()) {
        list += (list.empty() ? "" : ",") + name;
    }
    return list;
}

Event Event::named(const std::string& name, uint64_t arg) {
    const EventKind& kind = event_kind_named(name);
    if (kind.arg == FAULTLINE_ARG_SIGNAL && arg == FAULTLINE_ARG_DEFAULT) {
        throw ConfigError("event '" + name + "' needs a signal number");
    }
    return {kind.kind, kind.takes_arg() ? arg : 0};
}

std::string Event::name() const { return event_kind(kind).name; }

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
        const EventKind& kind = event_kind(e.event.kind);
        nlohmann::json entry{{"vaddr", e.trigger.vaddr}, {"event", kind.qmp_name}};
        if (e.trigger.cr3 != cr3) {
            entry["cr3"] = e.trigger.cr3;
        }
        if (e.trigger.hit != 1) {
            entry["hit"] = e.trigger.hit;
        }
        // All ones is the device's default target (next CPU, trigger's page).
        if (kind.takes_arg() && e.event.arg != FAULTLINE_ARG_DEFAULT) {
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
