// What Linux 6.12 does to a thread's rseq critical section when an event
// reaches the thread before a given instruction: kernel/rseq.c
// (rseq_ip_fixup, rseq_get_rseq_cs, rseq_need_restart) and the callers that
// set its event mask (include/linux/rseq.h). Plain C++, no SystemC:
// RseqRule (rseq_rule_module.hpp) puts it behind a TLM-2.0 target socket.
//
// Scope: a registered thread (current->rseq set) on x86-64 whose struct rseq
// stays writable (else rseq_update_cpu_node_id fails: SIGSEGV for any event
// that runs the fixup).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace faultline::models {

// struct rseq_cs, include/uapi/linux/rseq.h.
struct RseqCs {
    uint32_t version = 0;
    uint32_t flags = 0;
    uint64_t start_ip = 0;
    uint64_t post_commit_offset = 0;
    uint64_t abort_ip = 0;
};

// The deprecated RSEQ_CS_FLAG_NO_RESTART_ON_* bits (uapi/linux/rseq.h).
namespace rseq_cs_flag {
constexpr uint32_t no_restart_on_preempt = 1u << 0;
constexpr uint32_t no_restart_on_signal = 1u << 1;
constexpr uint32_t no_restart_on_migrate = 1u << 2;
}  // namespace rseq_cs_flag

enum class RseqEvent {
    preempt,
    migrate,
    signal,
    page_fault_that_blocks,         // the handler slept: the task was switched out
    page_fault_that_does_not_block,
};

// TASK_SIZE_MAX of x86-64 with 4-level paging: (1 << 47) - PAGE_SIZE.
constexpr uint64_t kTaskSize4Level = (uint64_t(1) << 47) - 4096;

struct RseqSituation {
    // rseq->rseq_cs: the descriptor's address, 0 when none is set.
    uint64_t rseq_cs = 0;
    // The descriptor there; nullopt when it cannot be read (copy_from_user
    // fails).
    std::optional<RseqCs> cs;
    uint32_t registered_signature = 0;  // current->rseq_sig, from sys_rseq
    // The u32 at abort_ip - 4; nullopt when it cannot be read.
    std::optional<uint32_t> signature_before_abort;
    uint32_t thread_flags = 0;  // rseq->flags
    RseqEvent event = RseqEvent::preempt;
    uint64_t ip = 0;  // the instruction the event lands before
    // TIF_NOTIFY_RESUME set by something other than rseq (a task_work):
    // the fixup then runs after an event that sets no rseq event bit, and
    // finds the event mask empty.
    bool notify_resume_pending = false;
    uint64_t task_size = kTaskSize4Level;
};

enum class RseqOutcome { resumes, aborts, sigsegv };

// Which check sent the thread SIGSEGV.
enum class RseqError {
    none,
    cs_pointer_beyond_task_size,
    cs_unreadable,
    cs_field_beyond_task_size,
    cs_version,
    cs_post_commit_overflow,
    abort_ip_inside_cs,
    signature_unreadable,
    signature_mismatch,
    cs_flags,
    thread_flags,
};

struct RseqVerdict {
    RseqOutcome outcome = RseqOutcome::resumes;
    uint64_t next_ip = 0;  // where the thread goes on; 0 with SIGSEGV
    RseqError error = RseqError::none;

    bool operator==(const RseqVerdict& o) const {
        return outcome == o.outcome && next_ip == o.next_ip && error == o.error;
    }
    bool operator!=(const RseqVerdict& o) const { return !(*this == o); }
};

RseqVerdict rseq_verdict(const RseqSituation& situation);

std::string to_string(RseqEvent event);
std::string to_string(RseqError error);
// "resumes at 0x401000", "aborts to 0x401040", "SIGSEGV (signature_mismatch)".
std::string to_string(const RseqVerdict& verdict);
// The verdict whose to_string() is text (a report read back); nullopt for
// any other text.
std::optional<RseqVerdict> parse_rseq_verdict(const std::string& text);

}  // namespace faultline::models
