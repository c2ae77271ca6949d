// Hand-checked cases, each from the Linux 6.12 function it names
// (kernel/rseq.c unless said otherwise).
#include "faultline/models/rseq_rule.hpp"

#include <gtest/gtest.h>

#include "bench.hpp"

namespace faultline::models {

void PrintTo(const RseqVerdict& v, std::ostream* os) { *os << to_string(v); }

namespace {

// RSEQ_SIG of tools/testing/selftests/rseq/rseq-x86.h.
constexpr uint32_t kSignature = 0x53053053;
constexpr uint64_t kStart = 0x401000, kLength = 0x20, kAbort = 0x401040;

// A preemption before the first instruction of a valid sequence.
RseqSituation preempt_at_start() {
    RseqSituation s;
    s.rseq_cs = 0x4c0000;
    s.cs = RseqCs{0, 0, kStart, kLength, kAbort};
    s.registered_signature = kSignature;
    s.signature_before_abort = kSignature;
    s.event = RseqEvent::preempt;
    s.ip = kStart;
    return s;
}

RseqSituation at(RseqSituation s, RseqEvent event, uint64_t ip) {
    s.event = event;
    s.ip = ip;
    return s;
}

RseqVerdict resumes_at(uint64_t ip) { return {RseqOutcome::resumes, ip, RseqError::none}; }
RseqVerdict aborts_to(uint64_t ip) { return {RseqOutcome::aborts, ip, RseqError::none}; }
RseqVerdict sigsegv(RseqError why) { return {RseqOutcome::sigsegv, 0, why}; }

const RseqEvent kAborting[] = {RseqEvent::preempt, RseqEvent::migrate, RseqEvent::signal,
                               RseqEvent::page_fault_that_blocks};

// rseq_ip_fixup: inside the sequence with an event bit set (rseq_preempt,
// rseq_migrate, rseq_signal_deliver; a fault that sleeps goes through
// schedule()), the return ip becomes abort_ip.
TEST(RseqRuleKernel, EveryEventThatSetsAnEventBitAbortsInside) {
    for (RseqEvent event : kAborting) {
        SCOPED_TRACE(to_string(event));
        EXPECT_EQ(rseq_verdict(at(preempt_at_start(), event, kStart)), aborts_to(kAbort));
        EXPECT_EQ(rseq_verdict(at(preempt_at_start(), event, kStart + kLength - 1)),
                  aborts_to(kAbort));
    }
}

// in_rseq_cs: ip - start_ip < post_commit_offset, unsigned: the post-commit
// ip and anything before start_ip are outside.
TEST(RseqRuleKernel, PostCommitIpAndBeforeStartAreOutside) {
    for (RseqEvent event : kAborting) {
        SCOPED_TRACE(to_string(event));
        EXPECT_EQ(rseq_verdict(at(preempt_at_start(), event, kStart + kLength)),
                  resumes_at(kStart + kLength));
        EXPECT_EQ(rseq_verdict(at(preempt_at_start(), event, kStart - 1)),
                  resumes_at(kStart - 1));
    }
}

// A fault handled without sleeping sets no event bit and no
// TIF_NOTIFY_RESUME (include/linux/rseq.h): the fixup never runs, so even a
// bad signature goes unnoticed.
TEST(RseqRuleKernel, PageFaultThatDoesNotBlockLeavesTheSequenceAlone) {
    RseqSituation s = at(preempt_at_start(), RseqEvent::page_fault_that_does_not_block, kStart);
    EXPECT_EQ(rseq_verdict(s), resumes_at(kStart));
    s.signature_before_abort = kSignature + 1;
    EXPECT_EQ(rseq_verdict(s), resumes_at(kStart));
}

// __rseq_handle_notify_resume runs the fixup on any TIF_NOTIFY_RESUME:
// rseq_get_rseq_cs still validates, rseq_need_restart still checks the
// flags, and an empty event mask means no restart.
TEST(RseqRuleKernel, OtherNotifyResumeRunsTheFixupWithAnEmptyEventMask) {
    RseqSituation s = at(preempt_at_start(), RseqEvent::page_fault_that_does_not_block, kStart);
    s.notify_resume_pending = true;
    EXPECT_EQ(rseq_verdict(s), resumes_at(kStart));
    RseqSituation bad_signature = s;
    bad_signature.signature_before_abort = kSignature + 1;
    EXPECT_EQ(rseq_verdict(bad_signature), sigsegv(RseqError::signature_mismatch));
    RseqSituation flagged = s;
    flagged.cs->flags = rseq_cs_flag::no_restart_on_preempt;
    EXPECT_EQ(rseq_verdict(flagged), sigsegv(RseqError::cs_flags));
}

// rseq_get_rseq_cs runs before in_rseq_cs: a wrong signature kills the
// thread wherever the event lands ("Possible attack attempt").
TEST(RseqRuleKernel, SignatureMismatchIsSigsegvInsideAndOutside) {
    RseqSituation s = preempt_at_start();
    s.signature_before_abort = 0x0f1f4400;
    EXPECT_EQ(rseq_verdict(s), sigsegv(RseqError::signature_mismatch));
    EXPECT_EQ(rseq_verdict(at(s, RseqEvent::signal, kStart + kLength)),
              sigsegv(RseqError::signature_mismatch));
    s.signature_before_abort.reset();
    EXPECT_EQ(rseq_verdict(s), sigsegv(RseqError::signature_unreadable));
}

// rseq_get_rseq_cs: a NULL rseq_cs reads as a zeroed descriptor, which
// nothing is inside; rseq_ip_fixup then only clears rseq_cs.
TEST(RseqRuleKernel, NoDescriptorResumes) {
    RseqSituation s = preempt_at_start();
    s.rseq_cs = 0;
    s.cs.reset();
    EXPECT_EQ(rseq_verdict(s), resumes_at(kStart));
}

// rseq_get_rseq_cs: version > 0 is -EINVAL.
TEST(RseqRuleKernel, VersionAboveZeroIsSigsegv) {
    RseqSituation s = preempt_at_start();
    s.cs->version = 1;
    EXPECT_EQ(rseq_verdict(s), sigsegv(RseqError::cs_version));
    EXPECT_EQ(rseq_verdict(at(s, RseqEvent::preempt, kAbort)), sigsegv(RseqError::cs_version));
}

// rseq_get_rseq_cs: abort_ip - start_ip < post_commit_offset is -EINVAL;
// the post-commit ip itself and anything below start_ip are valid.
TEST(RseqRuleKernel, AbortIpMustLieOutsideTheSequence) {
    RseqSituation s = preempt_at_start();
    s.cs->abort_ip = kStart;
    EXPECT_EQ(rseq_verdict(s), sigsegv(RseqError::abort_ip_inside_cs));
    s.cs->abort_ip = kStart + kLength - 1;
    EXPECT_EQ(rseq_verdict(s), sigsegv(RseqError::abort_ip_inside_cs));
    s.cs->abort_ip = kStart + kLength;
    EXPECT_EQ(rseq_verdict(s), aborts_to(kStart + kLength));
    s.cs->abort_ip = kStart - 0x10;
    EXPECT_EQ(rseq_verdict(s), aborts_to(kStart - 0x10));
}

// rseq_get_rseq_cs: the pointer and every address must be below TASK_SIZE.
TEST(RseqRuleKernel, AddressesFromTaskSizeUpAreSigsegv) {
    RseqSituation s = preempt_at_start();
    s.rseq_cs = kTaskSize4Level;
    EXPECT_EQ(rseq_verdict(s), sigsegv(RseqError::cs_pointer_beyond_task_size));
    s.rseq_cs = kTaskSize4Level - 32;
    EXPECT_EQ(rseq_verdict(s), aborts_to(kAbort));
    s.cs->post_commit_offset = kTaskSize4Level - kStart;
    EXPECT_EQ(rseq_verdict(s), sigsegv(RseqError::cs_field_beyond_task_size));
    s.cs->post_commit_offset = kLength;
    s.cs->abort_ip = kTaskSize4Level;
    EXPECT_EQ(rseq_verdict(s), sigsegv(RseqError::cs_field_beyond_task_size));
    // With 5-level paging the same descriptor is valid.
    s.task_size = (uint64_t(1) << 56) - 4096;
    EXPECT_EQ(rseq_verdict(s), aborts_to(kTaskSize4Level));
}

// rseq_get_rseq_cs: start_ip + post_commit_offset wrapping past 2^64 lands
// below TASK_SIZE, and the overflow check catches it.
TEST(RseqRuleKernel, PostCommitOffsetThatWrapsIsSigsegv) {
    RseqSituation s = preempt_at_start();
    s.cs->post_commit_offset = ~kStart + 1 + 0x10;  // start + offset = 0x10
    EXPECT_EQ(rseq_verdict(s), sigsegv(RseqError::cs_post_commit_overflow));
}

// rseq_get_rseq_cs: copy_from_user failing is -EFAULT.
TEST(RseqRuleKernel, UnreadableDescriptorIsSigsegv) {
    RseqSituation s = preempt_at_start();
    s.cs.reset();
    EXPECT_EQ(rseq_verdict(s), sigsegv(RseqError::cs_unreadable));
}

// rseq_need_restart -> rseq_warn_flags: in 6.12 any rseq_cs flag, the
// deprecated RSEQ_CS_FLAG_NO_RESTART_ON_* included, is -EINVAL; it is
// looked at only inside the sequence.
TEST(RseqRuleKernel, DeprecatedNoRestartFlagsAreSigsegvInsideOnly) {
    for (uint32_t flag : {rseq_cs_flag::no_restart_on_preempt, rseq_cs_flag::no_restart_on_signal,
                          rseq_cs_flag::no_restart_on_migrate, 1u << 3}) {
        SCOPED_TRACE(flag);
        RseqSituation s = preempt_at_start();
        s.cs->flags = flag;
        EXPECT_EQ(rseq_verdict(s), sigsegv(RseqError::cs_flags));
        EXPECT_EQ(rseq_verdict(at(s, RseqEvent::signal, kStart)), sigsegv(RseqError::cs_flags));
        EXPECT_EQ(rseq_verdict(at(s, RseqEvent::preempt, kStart + kLength)),
                  resumes_at(kStart + kLength));
    }
}

// rseq_need_restart: rseq->flags is checked the same way, after the
// descriptor's flags.
TEST(RseqRuleKernel, ThreadFlagsAreSigsegvInsideOnly) {
    RseqSituation s = preempt_at_start();
    s.thread_flags = rseq_cs_flag::no_restart_on_signal;
    EXPECT_EQ(rseq_verdict(s), sigsegv(RseqError::thread_flags));
    EXPECT_EQ(rseq_verdict(at(s, RseqEvent::migrate, kStart - 4)), resumes_at(kStart - 4));
    s.cs->flags = rseq_cs_flag::no_restart_on_preempt;
    EXPECT_EQ(rseq_verdict(s), sigsegv(RseqError::cs_flags));
}

// in_rseq_cs with post_commit_offset 0: nothing is inside.
TEST(RseqRuleKernel, EmptySequenceHasNothingInside) {
    RseqSituation s = preempt_at_start();
    s.cs->post_commit_offset = 0;
    EXPECT_EQ(rseq_verdict(s), resumes_at(kStart));
}

TEST(RseqRuleKernel, VerdictsReadAsWhatTheThreadDoes) {
    EXPECT_EQ(to_string(aborts_to(0x401040)), "aborts to 0x401040");
    EXPECT_EQ(to_string(resumes_at(0x401000)), "resumes at 0x401000");
    EXPECT_EQ(to_string(sigsegv(RseqError::signature_mismatch)), "SIGSEGV (signature_mismatch)");
}

// A sweep report holds the verdicts as text; faultline merge reads them back.
TEST(RseqRuleKernel, VerdictsReadBackFromTheirText) {
    for (const RseqVerdict& v :
         {aborts_to(0x401040), resumes_at(0x401000), resumes_at(0x7fffffffefff),
          sigsegv(RseqError::signature_mismatch), sigsegv(RseqError::thread_flags)}) {
        EXPECT_EQ(parse_rseq_verdict(to_string(v)), v) << to_string(v);
    }
    for (const char* text : {"", "aborts to", "aborts to 0x", "aborts to 0x0041", "aborts to 0xg",
                             "resumes at 401000", "SIGSEGV (none2)", "SIGSEGV", "commit",
                             "aborts to 0x401040 ", "aborts to 0x10000000000000000"}) {
        EXPECT_EQ(parse_rseq_verdict(text), std::nullopt) << text;
    }
}

// The module answers through its socket what the function does, for every
// event at every ip from before the sequence to past the abort handler, with
// a valid descriptor, a bad signature and a deprecated flag.
TEST(RseqRuleModule, AnswersThroughItsSocketWhatTheFunctionAnswers) {
    const RseqEvent events[] = {RseqEvent::preempt, RseqEvent::migrate, RseqEvent::signal,
                                RseqEvent::page_fault_that_blocks,
                                RseqEvent::page_fault_that_does_not_block};
    unsigned cases = 0, aborts = 0, kills = 0;
    for (int variant = 0; variant < 3; ++variant) {
        RseqSituation s = preempt_at_start();
        if (variant == 1) {
            s.signature_before_abort = 0;
        } else if (variant == 2) {
            s.cs->flags = rseq_cs_flag::no_restart_on_migrate;
        }
        for (RseqEvent event : events) {
            for (uint64_t ip = kStart - 8; ip < kAbort + 8; ++ip) {
                RseqVerdict expected = rseq_verdict(at(s, event, ip));
                ASSERT_EQ(bench::through_rseq_rule(at(s, event, ip)), expected)
                    << to_string(event) << " " << ip;
                ++cases;
                aborts += expected.outcome == RseqOutcome::aborts;
                kills += expected.outcome == RseqOutcome::sigsegv;
            }
        }
    }
    EXPECT_EQ(cases, 3u * 5u * 0x50u);
    // Valid: 4 aborting events × 0x20 ips inside; bad signature: 4 events ×
    // every ip; flag: 4 events × the ips inside.
    EXPECT_EQ(aborts, 4u * kLength);
    EXPECT_EQ(kills, 4u * 0x50u + 4u * kLength);
}

TEST(RseqRuleModule, RefusesAPayloadWithoutItsExtension) {
    EXPECT_EQ(bench::rseq_rule_status(std::nullopt), tlm::TLM_COMMAND_ERROR_RESPONSE);
    EXPECT_EQ(bench::rseq_rule_status(preempt_at_start()), tlm::TLM_OK_RESPONSE);
}

}  // namespace
}  // namespace faultline::models
