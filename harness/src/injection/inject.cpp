#include "faultline/injection/inject.hpp"

#include "faultline/machine/errors.hpp"

namespace faultline {

const std::vector<EventKind>& event_kinds() {
#define FAULTLINE_KIND_ROW(code, ID, name, qmp_name, arg, rseq, at) \
    {Event::Kind::name, #name, qmp_name, arg, rseq, at},
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

namespace {

std::vector<std::string> names_of_kinds(bool (EventKind::*chosen)() const) {
    std::vector<std::string> names;
    for (const auto& k : event_kinds()) {
        if ((k.*chosen)()) {
            names.emplace_back(k.name);
        }
    }
    return names;
}

std::string comma_list(const std::vector<std::string>& names) {
    std::string list;
    for (const auto& name : names) {
        list += (list.empty() ? "" : ",") + name;
    }
    return list;
}

}  // namespace

std::vector<std::string> swept_event_names() { return names_of_kinds(&EventKind::swept); }

std::string swept_event_list() { return comma_list(swept_event_names()); }

std::vector<std::string> kernel_event_names() { return names_of_kinds(&EventKind::kernel_swept); }

std::string kernel_event_list() { return comma_list(kernel_event_names()); }

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
        if (e.trigger.kernel) {
            entry["kernel"] = true;
        }
        if (e.percpu != 0) {
            entry["percpu"] = e.percpu;
        }
        entries.push_back(entry);
    }
    return {{"cr3", cr3}, {"entries", entries}};
}

std::vector<Firing> firings_of(const nlohmann::json& reply) {
    std::vector<Firing> firings;
    try {
        for (const auto& f : reply.at("firings")) {
            Firing firing;
            firing.entry = f.at("entry").get<uint32_t>();
            firing.icount = f.at("icount").get<uint64_t>();
            firing.vcpu = f.at("cpu").get<int>();
            firing.rip = f.at("rip").get<uint64_t>();
            firing.next_rip = f.value("next-rip", uint64_t(0));
            firing.next_icount = f.value("next-icount", uint64_t(0));
            firing.confirmed = f.at("confirmed").get<bool>();
            firing.status = f.value("status", std::string());
            firing.pkrs = f.at("pkrs").get<uint32_t>();
            firing.interrupts_enabled = f.at("interrupts-enabled").get<bool>();
            firing.nmis_blocked = f.at("nmis-blocked").get<bool>();
            if (f.contains("percpu")) {
                firing.percpu = f["percpu"].get<uint32_t>();
            }
            if (f.contains("handler-pkrs")) {
                firing.handler_pkrs = f["handler-pkrs"].get<uint32_t>();
            }
            if (f.contains("next-cpu")) {
                firing.next_vcpu = f["next-cpu"].get<int>();
                firing.next_pkrs = f.at("next-pkrs").get<uint32_t>();
            }
            if (f.contains("next-percpu")) {
                firing.next_percpu = f["next-percpu"].get<uint32_t>();
            }
            firings.push_back(firing);
        }
    } catch (const nlohmann::json::exception& e) {
        throw QmpError("query-faultline: unreadable reply " + reply.dump() + ": " + e.what());
    }
    return firings;
}

}  // namespace faultline
