#include "faultline/models/rseq_rule.hpp"

#include <cstdio>

namespace faultline::models {

namespace {

// enum rseq_event_mask (include/linux/rseq.h).
constexpr uint32_t kEventPreempt = 1u << 0;
constexpr uint32_t kEventSignal = 1u << 1;
constexpr uint32_t kEventMigrate = 1u << 2;

// The bits the event sets in current->rseq_event_mask; each of them also
// makes the fixup run before the thread returns to user space.
uint32_t event_mask_of(RseqEvent event) {
    switch (event) {
    // prepare_task_switch() (kernel/sched/core.c) calls rseq_preempt(prev).
    case RseqEvent::preempt: return kEventPreempt;
    // set_task_cpu() calls rseq_migrate().
    case RseqEvent::migrate: return kEventMigrate;
    // setup_rt_frame() (arch/x86/kernel/signal.c) calls rseq_signal_deliver(),
    // which runs the fixup at once.
    case RseqEvent::signal: return kEventSignal;
    // A handler that sleeps goes through schedule(): rseq_preempt().
    case RseqEvent::page_fault_that_blocks: return kEventPreempt;
    // A fault handled without sleeping touches no rseq state.
    case RseqEvent::page_fault_that_does_not_block: return 0;
    }
    return 0;
}

RseqVerdict resumes(uint64_t ip) { return {RseqOutcome::resumes, ip, RseqError::none}; }
RseqVerdict sigsegv(RseqError why) { return {RseqOutcome::sigsegv, 0, why}; }

// rseq_get_rseq_cs(): reads and validates the descriptor. Any failure
// (-EFAULT or -EINVAL) ends in __rseq_handle_notify_resume's
// force_sigsegv().
RseqError descriptor_error(const RseqSituation& s) {
    if (s.rseq_cs >= s.task_size) {
        return RseqError::cs_pointer_beyond_task_size;
    }
    if (!s.cs) {
        return RseqError::cs_unreadable;
    }
    const RseqCs& cs = *s.cs;
    if (cs.start_ip >= s.task_size || cs.start_ip + cs.post_commit_offset >= s.task_size ||
        cs.abort_ip >= s.task_size) {
        return RseqError::cs_field_beyond_task_size;
    }
    if (cs.version > 0) {
        return RseqError::cs_version;
    }
    if (cs.start_ip + cs.post_commit_offset < cs.start_ip) {
        return RseqError::cs_post_commit_overflow;
    }
    // Unsigned: abort_ip below start_ip wraps to a large difference.
    if (cs.abort_ip - cs.start_ip < cs.post_commit_offset) {
        return RseqError::abort_ip_inside_cs;
    }
    if (!s.signature_before_abort) {
        return RseqError::signature_unreadable;
    }
    if (*s.signature_before_abort != s.registered_signature) {
        return RseqError::signature_mismatch;
    }
    return RseqError::none;
}

}  // namespace

// The path of kernel/rseq.c, in order:
//   1. no event bit and no other TIF_NOTIFY_RESUME: the fixup never runs.
//   2. rseq_ip_fixup -> rseq_get_rseq_cs: a NULL rseq_cs reads as a zeroed
//      descriptor (nothing is inside it); a bad descriptor or signature is
//      SIGSEGV wherever ip is.
//   3. in_rseq_cs: outside [start_ip, start_ip + post_commit_offset) the
//      thread resumes (rseq_cs is cleared lazily, which no one sees here).
//   4. rseq_need_restart: any rseq_cs flag, the deprecated NO_RESTART_ON_*
//      ones included, and any rseq->flags bit is -EINVAL: SIGSEGV.
//   5. an empty event mask: resumes; otherwise abort_ip.
RseqVerdict rseq_verdict(const RseqSituation& s) {
    const uint32_t event_mask = event_mask_of(s.event);
    if (event_mask == 0 && !s.notify_resume_pending) {
        return resumes(s.ip);
    }
    if (s.rseq_cs == 0) {
        return resumes(s.ip);
    }
    if (RseqError error = descriptor_error(s); error != RseqError::none) {
        return sigsegv(error);
    }
    const RseqCs& cs = *s.cs;
    if (s.ip - cs.start_ip >= cs.post_commit_offset) {
        return resumes(s.ip);
    }
    if (cs.flags != 0) {
        return sigsegv(RseqError::cs_flags);
    }
    if (s.thread_flags != 0) {
        return sigsegv(RseqError::thread_flags);
    }
    if (event_mask == 0) {
        return resumes(s.ip);
    }
    return {RseqOutcome::aborts, cs.abort_ip, RseqError::none};
}

std::string to_string(RseqEvent event) {
    switch (event) {
    case RseqEvent::preempt: return "preempt";
    case RseqEvent::migrate: return "migrate";
    case RseqEvent::signal: return "signal";
    case RseqEvent::page_fault_that_blocks: return "page_fault_that_blocks";
    case RseqEvent::page_fault_that_does_not_block: return "page_fault_that_does_not_block";
    }
    return "?";
}

std::string to_string(RseqError error) {
    switch (error) {
    case RseqError::none: return "none";
    case RseqError::cs_pointer_beyond_task_size: return "cs_pointer_beyond_task_size";
    case RseqError::cs_unreadable: return "cs_unreadable";
    case RseqError::cs_field_beyond_task_size: return "cs_field_beyond_task_size";
    case RseqError::cs_version: return "cs_version";
    case RseqError::cs_post_commit_overflow: return "cs_post_commit_overflow";
    case RseqError::abort_ip_inside_cs: return "abort_ip_inside_cs";
    case RseqError::signature_unreadable: return "signature_unreadable";
    case RseqError::signature_mismatch: return "signature_mismatch";
    case RseqError::cs_flags: return "cs_flags";
    case RseqError::thread_flags: return "thread_flags";
    }
    return "?";
}

std::string to_string(const RseqVerdict& v) {
    char ip[32];
    std::snprintf(ip, sizeof ip, "%#llx", static_cast<unsigned long long>(v.next_ip));
    switch (v.outcome) {
    case RseqOutcome::resumes: return std::string("resumes at ") + ip;
    case RseqOutcome::aborts: return std::string("aborts to ") + ip;
    case RseqOutcome::sigsegv: return "SIGSEGV (" + to_string(v.error) + ")";
    }
    return "?";
}

std::optional<RseqVerdict> parse_rseq_verdict(const std::string& text) {
    auto address_after = [&](const std::string& head) -> std::optional<uint64_t> {
        if (text.rfind(head + "0x", 0) != 0) {
            return std::nullopt;
        }
        std::string digits = text.substr(head.size() + 2);
        if (digits.empty() || digits.size() > 16 ||
            digits.find_first_not_of("0123456789abcdef") != std::string::npos) {
            return std::nullopt;
        }
        return std::stoull(digits, nullptr, 16);
    };
    RseqVerdict verdict;
    if (auto ip = address_after("resumes at ")) {
        verdict.next_ip = *ip;
    } else if (auto abort_ip = address_after("aborts to ")) {
        verdict.outcome = RseqOutcome::aborts;
        verdict.next_ip = *abort_ip;
    } else {
        verdict.outcome = RseqOutcome::sigsegv;
        for (int e = int(RseqError::none); e <= int(RseqError::thread_flags); ++e) {
            verdict.error = RseqError(e);
            if (text == to_string(verdict)) {
                return verdict;
            }
        }
        return std::nullopt;
    }
    // Only what to_string() writes: "0x0041", or 0 (written "0"), is not.
    return to_string(verdict) == text ? std::optional(verdict) : std::nullopt;
}

}  // namespace faultline::models
