// Hand-checked cases, each from the source it names: the guest kernel's
// patches (guest-kernel/patches/), Linux 6.12, the Intel SDM, or the design
// (shared DESIGN.md, "Protection keys: facts for PKS").
#include "faultline/models/pks_interrupt_rule.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <utility>

#include "bench.hpp"

namespace faultline::models {

void PrintTo(const PksInterruptVerdict& v, std::ostream* os) { *os << to_string(v); }

namespace {

// A task that opened key 1 (pks_mk_readwrite(1)): bits 3:2 clear.
constexpr uint32_t kKey1Open = kPkrsDefault & ~(3u << 2);
// Another task's rights, key 2 open.
constexpr uint32_t kKey2Open = kPkrsDefault & ~(3u << 4);

const KernelEvent kEvents[] = {KernelEvent::irq, KernelEvent::nmi, KernelEvent::preempt};

// An event before a kernel instruction of the task with key 1 open, with
// interrupts and preemption enabled, that went as the rules say: the handler
// reported the default, control came back with the task's rights, the cache
// agreeing, and the kernel printed nothing.
PksInterruptSituation went_right(KernelEvent event) {
    PksInterruptSituation s;
    s.event = event;
    s.default_pkrs = kPkrsDefault;
    s.interrupted_pkrs = kKey1Open;
    s.interrupts_enabled = true;
    s.preemptible = true;
    s.handler_pkrs = kPkrsDefault;
    s.returned = true;
    s.return_pkrs = kKey1Open;
    s.return_cache = kKey1Open;
    return s;
}

PksInterruptVerdict taken(std::vector<PksCheck> failed = {}) {
    PksInterruptVerdict v;
    v.taken = true;
    v.failed = std::move(failed);
    v.expected_handler_pkrs = kPkrsDefault;
    v.expected_return_pkrs = kKey1Open;
    return v;
}

PksInterruptVerdict not_taken(const char* because, std::vector<PksCheck> failed = {}) {
    PksInterruptVerdict v = taken(std::move(failed));
    v.taken = false;
    v.not_taken_because = because;
    return v;
}

// Patch 0007's commit message: irqentry_enter() and irqentry_nmi_enter()
// "start a fresh one with the default rights, from user space as from the
// kernel": the key the task opened is not lent to the handler. The default is
// the kernel's, and a handler that reported nothing has shown nothing.
TEST(PksInterruptRuleKernel, EveryHandlerStartsWithTheDefaultRights) {
    for (KernelEvent event : kEvents) {
        SCOPED_TRACE(kernel_event_name(event));
        PksInterruptSituation s = went_right(event);
        s.handler_pkrs = kKey1Open;
        EXPECT_EQ(pks_interrupt_verdict(s), taken({PksCheck::handler_default}));
        s.handler_pkrs.reset();
        EXPECT_EQ(pks_interrupt_verdict(s), taken({PksCheck::handler_default}));
        s = went_right(event);
        s.default_pkrs = kKey2Open;
        PksInterruptVerdict expected = taken({PksCheck::handler_default});
        expected.expected_handler_pkrs = kKey2Open;
        EXPECT_EQ(pks_interrupt_verdict(s), expected);
        s.handler_pkrs = kKey2Open;
        expected.failed.clear();
        EXPECT_EQ(pks_interrupt_verdict(s), expected);
    }
}

// asm/pks.h, C1: the exit "puts the saved one back, and the register with
// it. What a handler opens ends with it; what it stopped gets exactly its own
// rights back": neither the handler's default nor a key it opened stays.
TEST(PksInterruptRuleKernel, TheReturnGivesTheInterruptedContextItsOwnRightsBack) {
    for (KernelEvent event : {KernelEvent::irq, KernelEvent::nmi}) {
        SCOPED_TRACE(kernel_event_name(event));
        PksInterruptSituation s = went_right(event);
        s.return_pkrs = kPkrsDefault;
        s.return_cache = kPkrsDefault;
        EXPECT_EQ(pks_interrupt_verdict(s), taken({PksCheck::return_restores}));
        s.return_pkrs = kKey1Open & ~(3u << 4);
        s.return_cache = s.return_pkrs;
        EXPECT_EQ(pks_interrupt_verdict(s), taken({PksCheck::return_restores}));
    }
}

// asm/pks.h, C2: "A task switched out takes the running record with it":
// preempted and switched back to, the task returns to its own rights, not to
// those of the task that ran in between.
TEST(PksInterruptRuleKernel, APreemptedTaskGetsItsRightsBackAfterTheSwitch) {
    PksInterruptSituation s = went_right(KernelEvent::preempt);
    EXPECT_EQ(pks_interrupt_verdict(s), taken());
    s.return_pkrs = kKey2Open;
    s.return_cache = kKey2Open;
    EXPECT_EQ(pks_interrupt_verdict(s), taken({PksCheck::return_restores}));
}

// Patch 0007's commit message: "irqentry_exit() and irqentry_nmi_exit() put
// it back with the register": an event that never comes back to the
// instruction has not; with no return there is nothing to compare.
TEST(PksInterruptRuleKernel, AnEventMustComeBack) {
    for (KernelEvent event : kEvents) {
        SCOPED_TRACE(kernel_event_name(event));
        PksInterruptSituation s = went_right(event);
        s.returned = false;
        s.return_pkrs = kKey2Open;
        s.return_cache.reset();
        EXPECT_EQ(pks_interrupt_verdict(s), taken({PksCheck::returned}));
    }
}

// Patch 0006's pkrs_write(): it skips the WRMSR when pkrs_cached already holds
// the value, so a cache that disagrees with the register at the return keeps
// a later write from reaching it. A cache not read is not judged.
TEST(PksInterruptRuleKernel, TheCacheMustAgreeWithTheRegisterAtTheReturn) {
    PksInterruptSituation s = went_right(KernelEvent::irq);
    s.return_cache = kPkrsDefault;
    EXPECT_EQ(pks_interrupt_verdict(s), taken({PksCheck::cache_agrees}));
    s.return_cache.reset();
    EXPECT_EQ(pks_interrupt_verdict(s), taken());
    // Judged against the register, whatever the register holds.
    s.return_pkrs = kKey2Open;
    s.return_cache = kKey2Open;
    EXPECT_EQ(pks_interrupt_verdict(s), taken({PksCheck::return_restores}));
}

// pks_nmi_enter()'s comment (asm/pks.h, patch 0007): the NMI path "writes the
// register whatever the cache says, so it never runs with, or leaves behind,
// a stale value": with interrupts off too, an NMI returns with the register
// restored and the cache agreeing.
TEST(PksInterruptRuleKernel, AnNmiLeavesNoStaleValueEvenWithInterruptsOff) {
    PksInterruptSituation s = went_right(KernelEvent::nmi);
    s.interrupts_enabled = false;
    s.preemptible = false;
    EXPECT_EQ(pks_interrupt_verdict(s), taken());
    s.return_cache = kPkrsDefault;
    EXPECT_EQ(pks_interrupt_verdict(s), taken({PksCheck::cache_agrees}));
    s.return_pkrs = kPkrsDefault;
    EXPECT_EQ(pks_interrupt_verdict(s), taken({PksCheck::return_restores}));
}

// Patch 0006's pkrs_cached comment: the cache is written before the
// register, "so an NMI between the two finds the new value and puts it back
// on its way out". The context gets back the value its WRMSR was about to
// write; an irq there is held to the register, since patch 0007 makes every
// change with interrupts off and an irq in the window is that rule broken.
TEST(PksInterruptRuleKernel, AnNmiInsidePkrsWriteGivesBackTheCachedValue) {
    PksInterruptSituation s = went_right(KernelEvent::nmi);
    s.interrupted_cache = kKey2Open;
    s.return_pkrs = kKey2Open;
    s.return_cache = kKey2Open;
    PksInterruptVerdict v = pks_interrupt_verdict(s);
    EXPECT_TRUE(v.passed()) << to_string(v);
    EXPECT_EQ(v.expected_return_pkrs, kKey2Open);
    s.return_pkrs = s.interrupted_pkrs;
    s.return_cache = s.interrupted_pkrs;
    EXPECT_EQ(pks_interrupt_verdict(s).failed, std::vector{PksCheck::return_restores});
    s.event = KernelEvent::irq;
    s.return_pkrs = kKey2Open;
    s.return_cache = kKey2Open;
    EXPECT_EQ(pks_interrupt_verdict(s).failed, std::vector{PksCheck::return_restores});
}

// SDM vol. 3A 6.8.1 (Masking Maskable Hardware Interrupts): EFLAGS.IF = 0
// holds back maskable hardware interrupts, not NMIs; a preemption, which
// comes on an interrupt's way out, waits with them. A waiting event is
// delivered elsewhere: its handler and return are not judged here.
TEST(PksInterruptRuleSdm, InterruptsOffHoldBackIrqAndPreemptNotNmi) {
    for (KernelEvent event : {KernelEvent::irq, KernelEvent::preempt}) {
        SCOPED_TRACE(kernel_event_name(event));
        PksInterruptSituation s = went_right(event);
        s.interrupts_enabled = false;
        EXPECT_EQ(pks_interrupt_verdict(s), not_taken("interrupts off"));
        s.handler_pkrs.reset();
        s.returned = false;
        s.return_cache.reset();
        s.preemptible = false;
        EXPECT_EQ(pks_interrupt_verdict(s), not_taken("interrupts off"));
    }
    PksInterruptSituation s = went_right(KernelEvent::nmi);
    s.interrupts_enabled = false;
    EXPECT_EQ(pks_interrupt_verdict(s), taken());
}

// Linux 6.12 kernel/entry/common.c, raw_irqentry_exit_cond_resched(): the
// interrupt's exit switches away only with preempt_count() 0. Preemption off
// holds back a preemption, not the interrupt itself or an NMI.
TEST(PksInterruptRuleKernel, PreemptionOffHoldsBackOnlyAPreemption) {
    PksInterruptSituation s = went_right(KernelEvent::preempt);
    s.preemptible = false;
    EXPECT_EQ(pks_interrupt_verdict(s), not_taken("preemption off"));
    s.handler_pkrs = kKey1Open;
    s.return_pkrs = kKey2Open;
    EXPECT_EQ(pks_interrupt_verdict(s), not_taken("preemption off"));
    for (KernelEvent event : {KernelEvent::irq, KernelEvent::nmi}) {
        SCOPED_TRACE(kernel_event_name(event));
        PksInterruptSituation t = went_right(event);
        t.preemptible = false;
        EXPECT_EQ(pks_interrupt_verdict(t), taken());
    }
}

// DESIGN.md, the seed's design: "the #PF handler on a PK fault: no page or
// page not unprotected → die". Rights gone wrong anywhere in the run show as
// a kernel report, which fails the run whether the event was taken or waited.
TEST(PksInterruptRuleDesign, AKernelReportFailsTakenAndWaitingEventsAlike) {
    PksInterruptSituation s = went_right(KernelEvent::irq);
    s.kernel_reports = 1;
    EXPECT_EQ(pks_interrupt_verdict(s), taken({PksCheck::no_kernel_report}));
    s.interrupts_enabled = false;
    EXPECT_EQ(pks_interrupt_verdict(s), not_taken("interrupts off", {PksCheck::no_kernel_report}));
    s = went_right(KernelEvent::nmi);
    s.kernel_reports = 3;
    s.handler_pkrs.reset();
    s.returned = false;
    s.return_cache.reset();
    EXPECT_EQ(pks_interrupt_verdict(s),
              taken({PksCheck::handler_default, PksCheck::returned, PksCheck::no_kernel_report}));
}

TEST(PksInterruptRuleKernel, NamesAndVerdictsReadAsTheSweepPrintsThem) {
    EXPECT_STREQ(pks_check_name(PksCheck::handler_default), "handler-default");
    EXPECT_STREQ(pks_check_name(PksCheck::returned), "returned");
    EXPECT_STREQ(pks_check_name(PksCheck::return_restores), "return-restores");
    EXPECT_STREQ(pks_check_name(PksCheck::cache_agrees), "cache-agrees");
    EXPECT_STREQ(pks_check_name(PksCheck::no_kernel_report), "no-kernel-report");
    EXPECT_STREQ(kernel_event_name(KernelEvent::irq), "irq");
    EXPECT_STREQ(kernel_event_name(KernelEvent::nmi), "nmi");
    EXPECT_STREQ(kernel_event_name(KernelEvent::preempt), "preempt");
    EXPECT_EQ(to_string(taken()), "taken, passed");
    EXPECT_EQ(to_string(taken({PksCheck::returned, PksCheck::no_kernel_report})),
              "taken, failed: returned, no-kernel-report");
    EXPECT_EQ(to_string(not_taken("interrupts off")), "not taken (interrupts off), passed");
}

// A kernel sweep's JSON report is read back by faultline merge: each name
// the sweep writes parses to what it was written from, and no other does.
TEST(PksInterruptRuleKernel, NamesReadBackAsWhatTheyName) {
    for (PksCheck check : kPksChecks) {
        EXPECT_EQ(parse_pks_check(pks_check_name(check)), check);
    }
    EXPECT_EQ(parse_pks_check("handler default"), std::nullopt);
    PksInterruptSituation s;
    s.interrupts_enabled = false;
    const char* reason = pks_interrupt_verdict(s).not_taken_because;
    EXPECT_EQ(pks_not_taken_reason(reason), reason);
    s.event = KernelEvent::preempt;
    s.interrupts_enabled = true;
    s.preemptible = false;
    reason = pks_interrupt_verdict(s).not_taken_because;
    EXPECT_EQ(pks_not_taken_reason(reason), reason);
    EXPECT_EQ(pks_not_taken_reason("interrupts disabled"), nullptr);
}

// The module answers through its socket what the function does, for every
// event, IF and preemptibility, over a handler that reported the default,
// the task's rights or nothing, every way of coming back (none; with the
// task's rights or the default; the cache unknown, agreeing or not) and a
// kernel report or none.
TEST(PksInterruptRuleModule, AnswersThroughItsSocketWhatTheFunctionAnswers) {
    const std::optional<uint32_t> handlers[] = {kPkrsDefault, kKey1Open, std::nullopt};
    unsigned cases = 0, taken_events = 0, passed = 0;
    for (KernelEvent event : kEvents) {
        for (unsigned bits = 0; bits < 4; ++bits) {
            for (const std::optional<uint32_t>& handler : handlers) {
                for (unsigned back = 0; back < 8; ++back) {
                    for (unsigned reports : {0u, 1u}) {
                        PksInterruptSituation s = went_right(event);
                        s.interrupts_enabled = bits & 1;
                        s.preemptible = bits & 2;
                        s.handler_pkrs = handler;
                        s.kernel_reports = reports;
                        // 0-1: no return (no cache read); 2-7: a return with
                        // the task's rights or the default, the cache unknown,
                        // agreeing or not.
                        s.returned = back >= 2;
                        s.return_pkrs = back % 2 ? kPkrsDefault : kKey1Open;
                        s.return_cache.reset();
                        if (back >= 4) {
                            s.return_cache = back >= 6 ? kKey2Open : s.return_pkrs;
                        }
                        PksInterruptVerdict expected = pks_interrupt_verdict(s);
                        ASSERT_EQ(bench::through_pks_interrupt_rule(s), expected)
                            << kernel_event_name(event) << " " << bits << " " << back;
                        ++cases;
                        taken_events += expected.taken;
                        passed += expected.passed();
                    }
                }
            }
        }
    }
    EXPECT_EQ(cases, 3u * 4u * 3u * 8u * 2u);
    // Taken: an NMI with any IF, an irq with IF = 1 (2 ways each), a
    // preemption with both: 7 of the 12 event settings, 48 cases each.
    EXPECT_EQ(taken_events, 7u * 48u);
    // Each taken setting passes with the default reported, the task's rights
    // back, the cache unknown or agreeing, no report: 2 ways; each waiting
    // one with no report: 24.
    EXPECT_EQ(passed, 7u * 2u + 5u * 24u);
}

TEST(PksInterruptRuleModule, RefusesAPayloadWithoutItsExtension) {
    EXPECT_EQ(bench::pks_interrupt_rule_status(std::nullopt), tlm::TLM_COMMAND_ERROR_RESPONSE);
    EXPECT_EQ(bench::pks_interrupt_rule_status(went_right(KernelEvent::irq)),
              tlm::TLM_OK_RESPONSE);
}

// No run produces an event outside the three, or a cache QEMU read at a
// return that never came: no answer, rather than one for a case that cannot
// arise.
TEST(PksInterruptRuleModule, RejectsASituationNoRunCanProduce) {
    PksInterruptSituation s = went_right(KernelEvent::irq);
    s.event = static_cast<KernelEvent>(3);
    EXPECT_THROW(pks_interrupt_verdict(s), std::invalid_argument);
    EXPECT_EQ(bench::pks_interrupt_rule_status(s), tlm::TLM_GENERIC_ERROR_RESPONSE);
    s = went_right(KernelEvent::nmi);
    s.returned = false;
    EXPECT_THROW(pks_interrupt_verdict(s), std::invalid_argument);
    EXPECT_EQ(bench::pks_interrupt_rule_status(s), tlm::TLM_GENERIC_ERROR_RESPONSE);
}

}  // namespace
}  // namespace faultline::models
