#include "faultline/models/pks_interrupt_rule.hpp"

#include <cstring>
#include <stdexcept>

namespace faultline::models {

namespace {

constexpr const char* kInterruptsOff = "interrupts off";
constexpr const char* kPreemptionOff = "preemption off";

// Why the event waits instead of stopping the instruction; nullptr when it
// stops it. A waiting event is delivered later, elsewhere: its handler and
// return are not this instruction's, so none of them is checked.
const char* why_not_taken(const PksInterruptSituation& s) {
    switch (s.event) {
    // EFLAGS.IF does not mask NMIs (SDM vol. 3A 6.8.1, Masking Maskable
    // Hardware Interrupts).
    case KernelEvent::nmi: return nullptr;
    case KernelEvent::irq: return s.interrupts_enabled ? nullptr : kInterruptsOff;
    // A preemption comes on the way out of an interrupt, so it needs one
    // taken, and then irqentry_exit_cond_resched() (kernel/entry/common.c)
    // switches away only with preempt_count() 0.
    case KernelEvent::preempt:
        if (!s.interrupts_enabled) {
            return kInterruptsOff;
        }
        return s.preemptible ? nullptr : kPreemptionOff;
    }
    return nullptr;
}

}  // namespace

// A taken event, in the order the checks are listed:
//   handler_default: irqentry_enter() and irqentry_nmi_enter() start a fresh
//     record with the default rights, from user space as from the kernel
//     (C1); a handler that sent no report has not shown it.
//   returned: the handler, and for a preemption the switch back, end.
//   return_restores: the exit puts the saved record back with the register
//     (C1), and a switch away saves the running record and loads it again
//     on the switch back (C2).
//   cache_agrees: pkrs_write() skips the WRMSR when pkrs_cached already holds
//     the value, so a cache that disagrees with the register at the return
//     keeps a later write from reaching it.
// Whether taken or not, a kernel report means a rule broke somewhere, a PK
// fault the handler or its return took among them.
PksInterruptVerdict pks_interrupt_verdict(const PksInterruptSituation& s) {
    if (static_cast<unsigned>(s.event) > static_cast<unsigned>(KernelEvent::preempt)) {
        throw std::invalid_argument("PksInterruptRule: event " +
                                    std::to_string(static_cast<int>(s.event)) +
                                    " does not exist");
    }
    // QEMU reads the cache at the moment control comes back: with no return
    // there is no moment to read it at.
    if (s.return_cache && !s.returned) {
        throw std::invalid_argument(
            "PksInterruptRule: a cache read at a return that did not happen");
    }
    // The rest can all happen. A handler report or a return with the event
    // not taken: it is delivered later and its handler still runs. Any PKRS
    // value: a default that closes key 0 is a broken kernel to fail, not a
    // query to refuse, and the conformance batch (patch 0014) runs with key
    // 0 closed under CR4.PKS = 0, where only an NMI stops it.
    PksInterruptVerdict v;
    v.not_taken_because = why_not_taken(s);
    v.taken = v.not_taken_because == nullptr;
    v.expected_handler_pkrs = s.default_pkrs;
    // An NMI saves and puts back the cache (pks_nmi_enter()), which runs
    // ahead of the register inside pkrs_write() (patch 0006: "an NMI
    // between the two finds the new value and puts it back"). Interrupts
    // and preemptions must never see that window: every change happens
    // with interrupts off (patch 0007, asm/pks.h), so they are held to the
    // register.
    v.expected_return_pkrs = s.event == KernelEvent::nmi && s.interrupted_cache
                                 ? *s.interrupted_cache
                                 : s.interrupted_pkrs;
    if (v.taken) {
        if (!s.handler_pkrs || *s.handler_pkrs != s.default_pkrs) {
            v.failed.push_back(PksCheck::handler_default);
        }
        if (!s.returned) {
            v.failed.push_back(PksCheck::returned);
        } else {
            if (s.return_pkrs != v.expected_return_pkrs) {
                v.failed.push_back(PksCheck::return_restores);
            }
            if (s.return_cache && *s.return_cache != s.return_pkrs) {
                v.failed.push_back(PksCheck::cache_agrees);
            }
        }
    }
    if (s.kernel_reports != 0) {
        v.failed.push_back(PksCheck::no_kernel_report);
    }
    return v;
}

bool PksInterruptVerdict::operator==(const PksInterruptVerdict& o) const {
    const bool same_reason = not_taken_because == nullptr || o.not_taken_because == nullptr
                                 ? not_taken_because == o.not_taken_because
                                 : std::strcmp(not_taken_because, o.not_taken_because) == 0;
    return taken == o.taken && same_reason && failed == o.failed &&
           expected_handler_pkrs == o.expected_handler_pkrs &&
           expected_return_pkrs == o.expected_return_pkrs;
}

const char* pks_check_name(PksCheck check) {
    switch (check) {
    case PksCheck::handler_default: return "handler-default";
    case PksCheck::returned: return "returned";
    case PksCheck::return_restores: return "return-restores";
    case PksCheck::cache_agrees: return "cache-agrees";
    case PksCheck::no_kernel_report: return "no-kernel-report";
    }
    return "?";
}

std::optional<PksCheck> parse_pks_check(const std::string& name) {
    for (PksCheck check : kPksChecks) {
        if (name == pks_check_name(check)) {
            return check;
        }
    }
    return std::nullopt;
}

const char* pks_not_taken_reason(const std::string& text) {
    for (const char* reason : {kInterruptsOff, kPreemptionOff}) {
        if (text == reason) {
            return reason;
        }
    }
    return nullptr;
}

const char* kernel_event_name(KernelEvent event) {
    switch (event) {
    case KernelEvent::irq: return "irq";
    case KernelEvent::nmi: return "nmi";
    case KernelEvent::preempt: return "preempt";
    }
    return "?";
}

std::string to_string(const PksInterruptVerdict& v) {
    // A default-constructed verdict, the extension's before any answer, has
    // no reason.
    const char* reason = v.not_taken_because != nullptr ? v.not_taken_because : "?";
    std::string text = v.taken ? "taken" : std::string("not taken (") + reason + ")";
    if (v.passed()) {
        return text + ", passed";
    }
    text += ", failed: ";
    for (size_t i = 0; i < v.failed.size(); ++i) {
        text += (i == 0 ? "" : ", ");
        text += pks_check_name(v.failed[i]);
    }
    return text;
}

}  // namespace faultline::models
