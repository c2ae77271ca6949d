#include "faultline/injection/inject.hpp"

#include <gtest/gtest.h>

#include "faultline/machine/errors.hpp"

using namespace faultline;
using Json = nlohmann::json;

TEST(InjectQmp, ScheduleBecomesTerseFaultlineArmArguments) {
    std::vector<ScheduleEntry> schedule{
        {{0x401950, 0x2ae000, 3}, Event::signal(10), 0x401990},
        {{0x401960, 0x2ae000, 1}, Event::page_fault_at_trigger()},
        {{0x401970, 0x3bf000, 1}, Event::preempt()},
    };
    // The first entry's address space is the default; hit 1, the default
    // target (the trigger's page) and no watch are left out.
    Json expected = Json::parse(R"({"cr3": 2809856, "entries": [
        {"vaddr": 4200784, "hit": 3, "event": "signal", "arg": 10, "watch": 4200848},
        {"vaddr": 4200800, "event": "page-fault"},
        {"vaddr": 4200816, "event": "preempt", "cr3": 3928064}]})");
    EXPECT_EQ(faultline_arm_arguments(schedule), expected);
}

TEST(InjectQmp, RefusesHitZeroAndAWatchOnTheTrigger) {
    EXPECT_THROW(faultline_arm_arguments({{{0x401950, 0, 0}, Event::preempt()}}), ConfigError);
    EXPECT_THROW(faultline_arm_arguments({{{0x401950, 0, 1}, Event::preempt(), 0x401950}}),
                 ConfigError);
}

TEST(InjectQmp, ReadsFiringsFromQueryFaultline) {
    auto firings = firings_of(Json::parse(R"({"pending": 0, "firings": [
        {"entry": 0, "icount": 97035722, "cpu": 1, "rip": 4200784, "confirmed": false,
         "pkrs": 1431655764, "interrupts-enabled": true, "nmis-blocked": false},
        {"entry": 1, "icount": 97100000, "cpu": 0, "rip": 4200800,
         "next-rip": 4200848, "next-icount": 97100421, "confirmed": true,
         "status": "done", "pkrs": 0, "interrupts-enabled": false, "nmis-blocked": true}]})"));
    ASSERT_EQ(firings.size(), 2u);
    EXPECT_EQ(firings[0].icount, 97035722u);
    EXPECT_EQ(firings[0].vcpu, 1);
    EXPECT_EQ(firings[0].rip, 0x401950u);
    EXPECT_EQ(firings[0].next_rip, 0u);
    // No answer from the guest yet.
    EXPECT_FALSE(firings[0].confirmed);
    EXPECT_EQ(firings[0].status, "");
    EXPECT_EQ(firings[1].entry, 1u);
    EXPECT_EQ(firings[1].next_rip, 0x401990u);
    EXPECT_EQ(firings[1].next_icount, 97100421u);
    EXPECT_TRUE(firings[1].confirmed);
    EXPECT_EQ(firings[1].status, "done");
    EXPECT_EQ(firings[0].pkrs, 0x55555554u);
    EXPECT_TRUE(firings[0].interrupts_enabled);
    EXPECT_FALSE(firings[1].interrupts_enabled);
    EXPECT_TRUE(firings[1].nmis_blocked);
    // No kernel trigger: no handler report, no return.
    EXPECT_FALSE(firings[1].handler_pkrs);
    EXPECT_FALSE(firings[1].next_vcpu);
    EXPECT_TRUE(firings_of(Json::parse(R"({"pending": 2, "firings": []})")).empty());
    EXPECT_THROW(firings_of(Json::parse(R"({"firings": [{"entry": "x"}]})")), QmpError);
}

TEST(InjectQmp, KernelTriggersSayKernelAndWhatToReadAtTheReturn) {
    // cr3 0: every address space; a per-CPU offset to read at the return.
    Trigger trigger{0xffffffff81035657, 0, 1, true};
    Json expected = Json::parse(R"({"cr3": 0, "entries": [
        {"vaddr": 18446744071579063895, "event": "nmi", "kernel": true, "percpu": 113900}]})");
    EXPECT_EQ(faultline_arm_arguments({{trigger, Event::named("nmi"), 0, 0x1bcec}}), expected);
}

TEST(InjectQmp, ReadsWhatAKernelTriggerRecorded) {
    auto firings = firings_of(Json::parse(R"({"pending": 0, "firings": [
        {"entry": 0, "icount": 5, "cpu": 0, "rip": 18446744071579063895, "confirmed": true,
         "status": "done", "pkrs": 1431655760, "interrupts-enabled": true,
         "nmis-blocked": false, "percpu": 1431655760, "handler-pkrs": 1431655764,
         "next-rip": 18446744071579063895, "next-icount": 900, "next-cpu": 1,
         "next-pkrs": 1431655760, "next-percpu": 1431655764}]})"));
    ASSERT_EQ(firings.size(), 1u);
    EXPECT_EQ(firings[0].percpu, 0x55555550u);
    EXPECT_EQ(firings[0].handler_pkrs, 0x55555554u);
    EXPECT_EQ(firings[0].next_vcpu, 1);
    EXPECT_EQ(firings[0].next_pkrs, 0x55555550u);
    EXPECT_EQ(firings[0].next_percpu, 0x55555554u);
}

TEST(EventKinds, NamesAndSweepArgumentsComeFromTheTable) {
    EXPECT_EQ(Event::page_fault_at_trigger().name(), "page_fault");
    EXPECT_EQ(event_kind(Event::Kind::migrate).sweep_arg(10), Event::kNextCpu);
    EXPECT_EQ(event_kind(Event::Kind::signal).sweep_arg(10), 10u);
    EXPECT_EQ(swept_event_list(), "preempt,signal,migrate,page_fault,page_fault_blocking");
    // What can meet a kernel instruction; what acts on a user task cannot.
    EXPECT_EQ(kernel_event_list(), "preempt,irq,nmi");
    EXPECT_EQ(event_kind(Event::Kind::page_fault_blocking).rseq_event,
              FAULTLINE_RSEQ_PAGE_FAULT_THAT_BLOCKS);
    EXPECT_EQ(event_kind(Event::Kind::none).rseq_event, FAULTLINE_RSEQ_NONE);
}

TEST(EventKinds, AnyKindIsMadeByItsName) {
    EXPECT_EQ(Event::named("migrate").arg, Event::kNextCpu);
    EXPECT_EQ(Event::named("page_fault", 0x1000).arg, 0x1000u);
    EXPECT_EQ(Event::named("preempt", 5).arg, 0u);
    EXPECT_EQ(Event::named("signal", 10).kind, Event::Kind::signal);
    EXPECT_THROW(Event::named("signal"), ConfigError);
    try {
        Event::named("explode");
        FAIL() << "an unknown name was taken";
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(), "unknown event 'explode' "
                               "(preempt,signal,migrate,page_fault,page_fault_blocking,irq,nmi,none)");
    }
}
