#include "faultline/injection/trace.hpp"

#include <gtest/gtest.h>

#include "faultline/machine/errors.hpp"
#include "qapi_schema.hpp"

using namespace faultline;
using Json = nlohmann::json;

// QAPI's FaultlinePkKind and pk_event_kinds() name the same kinds in the
// same order: one table on each side of QMP.
TEST(PkEventKinds, MatchTheQapiEnumOfTheBuiltQemu) {
    std::vector<std::string> qapi = qapi_enum_values("FaultlinePkKind");
    ASSERT_FALSE(qapi.empty()) << "build QEMU first (make qemu)";
    std::vector<std::string> ours;
    for (const auto& kind : pk_event_kinds()) {
        ours.emplace_back(kind.qmp_name);
    }
    EXPECT_EQ(ours, qapi);
}

TEST(PkEventKinds, ListsParseByNameAndRefuseUnknownOrEmptyNames) {
    using K = PkEvent::Kind;
    EXPECT_EQ(pk_event_kinds_from_list("pk_fault,wrpkru"),
              (std::vector<K>{K::pk_fault, K::wrpkru}));
    EXPECT_EQ(pk_event_kinds_from_list("all"),
              (std::vector<K>{K::wrpkru, K::xrstor_pkru, K::pkrs_write, K::pk_fault}));
    try {
        pk_event_kinds_from_list("wrpkru,pk-fault");
        FAIL() << "a QAPI spelling is not a kind name";
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(),
                     "unknown protection-key event kind 'pk-fault' (known: wrpkru, xrstor_pkru, "
                     "pkrs_write, pk_fault, page_fault, or all)");
    }
    EXPECT_THROW(pk_event_kinds_from_list(""), ConfigError);
    EXPECT_THROW(pk_event_kinds_from_list("wrpkru,"), ConfigError);
    EXPECT_THROW(pk_event_kinds_from_list("wrpkru,,pk_fault"), ConfigError);
}

TEST(PkTraceQmp, ArgumentsNameKindsTheQapiWayAndNoKindsStops) {
    using K = PkEvent::Kind;
    EXPECT_EQ(faultline_pk_trace_arguments({K::xrstor_pkru, K::pk_fault}, 0x2ae000),
              Json::parse(R"({"enable": true, "kinds": ["xrstor-pkru", "pk-fault"],
                              "limit": 1048576, "cr3": 2809856})"));
    EXPECT_EQ(faultline_pk_trace_arguments({K::pkrs_write}, std::nullopt),
              Json::parse(R"({"enable": true, "kinds": ["pkrs-write"], "limit": 1048576})"));
    EXPECT_EQ(faultline_pk_trace_arguments({}, 0x2ae000), Json::parse(R"({"enable": false})"));
}

TEST(PkTraceQmp, ReadsEventsAndWritesTheFieldsOfTheirKind) {
    auto events = pk_events_of(Json::parse(R"({"lost": 0, "events": [
        {"kind": "wrpkru", "icount": 1000, "cpu": 1, "rip": 4198400, "cpl": 3,
         "cr3": 2809856, "old": 1431655764, "value": 1431655760},
        {"kind": "pk-fault", "icount": 1200, "cpu": 0, "rip": 4198410, "cpl": 3,
         "cr3": 2809856, "addr": 140737354117120, "error-code": 39, "pkey": 1,
         "access": "write", "pkr": 1431655768}]})"));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].kind, PkEvent::Kind::wrpkru);
    EXPECT_EQ(events[0].vcpu, 1);
    EXPECT_EQ(events[0].old, 0x55555554u);
    EXPECT_EQ(events[0].value, 0x55555550u);
    EXPECT_EQ(events[1].kind, PkEvent::Kind::pk_fault);
    EXPECT_EQ(events[1].error_code, 0x27u);
    EXPECT_EQ(events[1].access, PkEvent::Access::write);
    EXPECT_EQ(events[1].pkr, 0x55555558u);
    EXPECT_EQ(events[0].json(), Json::parse(R"({"kind": "wrpkru", "icount": 1000, "vcpu": 1,
        "rip": 4198400, "cpl": 3, "cr3": 2809856, "old": 1431655764, "value": 1431655760})"));
    EXPECT_EQ(events[1].json(), Json::parse(R"({"kind": "pk_fault", "icount": 1200, "vcpu": 0,
        "rip": 4198410, "cpl": 3, "cr3": 2809856, "addr": 140737354117120, "error_code": 39,
        "pkey": 1, "access": "write", "pkr": 1431655768})"));
}

TEST(PkTraceQmp, LostEventsAndUnreadableRepliesAreErrors) {
    try {
        pk_events_of(Json::parse(R"({"lost": 3, "events": [
            {"kind": "wrpkru", "icount": 1, "cpu": 0, "rip": 1, "cpl": 3, "cr3": 0,
             "old": 0, "value": 4}]})"));
        FAIL() << "lost events must not pass silently";
    } catch (const QmpError& e) {
        EXPECT_NE(std::string(e.what()).find("kept 1 protection-key events and lost 3"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_THROW(pk_events_of(Json::parse(R"({"events": []})")), QmpError);
    EXPECT_THROW(pk_events_of(Json::parse(R"({"lost": 0, "events": [
        {"kind": "wrpkru", "icount": 1, "cpu": 0, "rip": 1, "cpl": 3, "cr3": 0}]})")),
                 QmpError);
    EXPECT_THROW(pk_events_of(Json::parse(R"({"lost": 0, "events": [
        {"kind": "rdpkru", "icount": 1, "cpu": 0, "rip": 1, "cpl": 3, "cr3": 0}]})")),
                 QmpError);
    EXPECT_TRUE(pk_events_of(Json::parse(R"({"lost": 0, "events": []})")).empty());
}
