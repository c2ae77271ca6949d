#include "faultline/injection/trace.hpp"

#include <sstream>

#include "faultline/machine/errors.hpp"

namespace faultline {

using Json = nlohmann::json;

const std::vector<PkEventKind>& pk_event_kinds() {
    static const std::vector<PkEventKind> kinds = {
        {PkEvent::Kind::wrpkru, "wrpkru", "wrpkru", true},
        {PkEvent::Kind::xrstor_pkru, "xrstor_pkru", "xrstor-pkru", true},
        {PkEvent::Kind::pkrs_write, "pkrs_write", "pkrs-write", true},
        {PkEvent::Kind::pk_fault, "pk_fault", "pk-fault", true},
        {PkEvent::Kind::page_fault, "page_fault", "page-fault", false},
    };
    return kinds;
}

const PkEventKind& pk_event_kind(PkEvent::Kind kind) {
    for (const auto& k : pk_event_kinds()) {
        if (k.kind == kind) {
            return k;
        }
    }
    throw Error("protection-key event kind missing from pk_event_kinds()");
}

PkEvent::Kind pk_event_kind_named(const std::string& name) {
    std::string known;
    for (const auto& k : pk_event_kinds()) {
        if (name == k.name) {
            return k.kind;
        }
        known += (known.empty() ? "" : ", ") + std::string(k.name);
    }
    throw ConfigError("unknown protection-key event kind '" + name + "' (known: " + known +
                      ", or all)");
}

std::vector<PkEvent::Kind> pk_event_kinds_from_list(const std::string& list) {
    std::vector<PkEvent::Kind> kinds;
    if (list == "all") {
        for (const auto& k : pk_event_kinds()) {
            if (k.in_all) {
                kinds.push_back(k.kind);
            }
        }
        return kinds;
    }
    std::stringstream names(list);
    for (std::string name; std::getline(names, name, ',');) {
        kinds.push_back(pk_event_kind_named(name));
    }
    if (kinds.empty() || list.back() == ',') {
        throw ConfigError("no protection-key event kind in '" + list + "'");
    }
    return kinds;
}

std::string PkEvent::name() const { return pk_event_kind(kind).name; }

Json PkEvent::json() const {
    Json j{{"kind", name()}, {"icount", icount}, {"vcpu", vcpu}, {"rip", rip},
           {"cpl", cpl},     {"cr3", cr3}};
    if (is_fault()) {
        j["addr"] = addr;
        j["error_code"] = error_code;
        j["access"] = access == Access::write ? "write" : access == Access::fetch ? "fetch" : "read";
    }
    if (kind == Kind::pk_fault) {
        j["pkey"] = pkey;
        j["pkr"] = pkr;
    } else if (kind == Kind::page_fault) {
        j["pkru"] = pkru;
        j["pkrs"] = pkrs;
    } else {
        j["old"] = old;
        j["value"] = value;
    }
    return j;
}

Json faultline_pk_trace_arguments(const std::vector<PkEvent::Kind>& kinds,
                                  std::optional<uint64_t> cr3) {
    if (kinds.empty()) {
        return {{"enable", false}};
    }
    Json names = Json::array();
    for (auto kind : kinds) {
        names.push_back(pk_event_kind(kind).qmp_name);
    }
    Json args{{"enable", true}, {"kinds", names}, {"limit", kPkTraceLimit}};
    if (cr3) {
        args["cr3"] = *cr3;
    }
    return args;
}

namespace {

PkEvent::Kind kind_of_qmp_name(const std::string& qmp_name) {
    for (const auto& k : pk_event_kinds()) {
        if (qmp_name == k.qmp_name) {
            return k.kind;
        }
    }
    throw QmpError("query-faultline-pk-events: unknown kind '" + qmp_name + "'");
}

}  // namespace

std::vector<PkEvent> pk_events_of(const Json& reply) {
    std::vector<PkEvent> events;
    uint64_t lost = 0;
    try {
        for (const auto& e : reply.at("events")) {
            PkEvent p;
            p.kind = kind_of_qmp_name(e.at("kind").get<std::string>());
            p.icount = e.at("icount").get<uint64_t>();
            p.vcpu = e.at("cpu").get<int>();
            p.rip = e.at("rip").get<uint64_t>();
            p.cpl = e.at("cpl").get<int>();
            p.cr3 = e.at("cr3").get<uint64_t>();
            if (p.is_fault()) {
                p.addr = e.at("addr").get<uint64_t>();
                p.error_code = e.at("error-code").get<uint32_t>();
                std::string access = e.at("access").get<std::string>();
                if (access != "read" && access != "write" && access != "fetch") {
                    throw QmpError("query-faultline-pk-events: unknown access '" + access + "'");
                }
                p.access = access == "write"   ? PkEvent::Access::write
                           : access == "fetch" ? PkEvent::Access::fetch
                                               : PkEvent::Access::read;
            }
            if (p.kind == PkEvent::Kind::pk_fault) {
                p.pkey = e.at("pkey").get<int>();
                p.pkr = e.at("pkr").get<uint32_t>();
            } else if (p.kind == PkEvent::Kind::page_fault) {
                p.pkru = e.at("pkru").get<uint32_t>();
                p.pkrs = e.at("pkrs").get<uint32_t>();
            } else {
                p.old = e.at("old").get<uint64_t>();
                p.value = e.at("value").get<uint64_t>();
            }
            events.push_back(p);
        }
        lost = reply.at("lost").get<uint64_t>();
    } catch (const nlohmann::json::exception& e) {
        throw QmpError("query-faultline-pk-events: unreadable reply " + reply.dump() + ": " +
                       e.what());
    }
    if (lost > 0) {
        throw QmpError("query-faultline-pk-events: QEMU kept " + std::to_string(events.size()) +
                       " protection-key events and lost " + std::to_string(lost) +
                       " past its limit: read them more often, or trace fewer kinds");
    }
    return events;
}

}  // namespace faultline
