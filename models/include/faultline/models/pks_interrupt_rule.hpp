// What the guest kernel's supervisor protection keys (PKS) must look like
// around an event that stops one kernel instruction: a device interrupt, an
// NMI, or a preemption on an interrupt's way out. The rules are those of
// guest-kernel/patches/0007 (its commit message, asm/pks.h's invariants
// C1-C3, pks_nmi_enter()): a handler is a context of its own with the
// default rights, and what it stopped gets exactly its own rights back, after
// a switch away and back too. Plain C++, no SystemC: PksInterruptRule
// (pks_interrupt_rule_module.hpp) puts it behind a TLM-2.0 target socket.
//
// Scope: runs that free no key while a context is stopped (C4, patch 0008,
// closes it on the return) and take no relaxed-mode PK fault (F3, patch 0011:
// a switch away drops the key it opened): both change what a context gets
// back, by design. Events fired where the CPU holds them back whatever
// EFLAGS.IF says are out of it too: inside an NMI handler (a second NMI waits
// for the IRET) and in the shadow of STI or MOV SS. An NMI between
// pkrs_write()'s cache store and its WRMSR gives back the cache's new value,
// by design (patch 0006, pkrs_cached: "an NMI between the two finds the new
// value and puts it back"): with the cache known when it came, that is what
// it is held to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace faultline::models {

// PKRS_DEFAULT (asm/pkrs.h): key 0 open, keys 1-15 access-disabled.
constexpr uint32_t kPkrsDefault = 0x55555554;

enum class KernelEvent { irq, nmi, preempt };

// PKRS values are IA32_PKRS bits 31:0; bits 63:32 are reserved (WRMSR #GP),
// so every value of these fields is one a CPU can hold.
struct PksInterruptSituation {
    KernelEvent event = KernelEvent::irq;
    uint32_t default_pkrs = kPkrsDefault;      // what every handler starts with
    uint32_t interrupted_pkrs = kPkrsDefault;  // IA32_PKRS when the event arrived (QEMU)
    // The kernel's per-CPU cache of PKRS (pkrs_cached) then, as QEMU read
    // it; nullopt when not known.
    std::optional<uint32_t> interrupted_cache;
    bool interrupts_enabled = true;            // EFLAGS.IF at that instruction (QEMU)
    // preempt only: the guest said the interrupted context had preemption
    // enabled (preempt_count 0).
    bool preemptible = true;
    // IA32_PKRS read with RDMSR inside the handler (the guest driver's
    // report); nullopt when none came.
    std::optional<uint32_t> handler_pkrs;
    // Control came back to the interrupted instruction (QEMU saw the same
    // stack pointer arrive there again).
    bool returned = false;
    uint32_t return_pkrs = 0;  // IA32_PKRS at that return (QEMU)
    // The kernel's per-CPU cache of PKRS (pkrs_cached) at that return, as
    // QEMU read it; nullopt when not known.
    std::optional<uint32_t> return_cache;
    unsigned kernel_reports = 0;  // WARN/BUG/Oops/KASAN reports printed during the run
};

enum class PksCheck { handler_default, returned, return_restores, cache_agrees, no_kernel_report };
inline constexpr PksCheck kPksChecks[] = {PksCheck::handler_default, PksCheck::returned,
                                          PksCheck::return_restores, PksCheck::cache_agrees,
                                          PksCheck::no_kernel_report};

struct PksInterruptVerdict {
    bool taken = false;  // the event was taken at the instruction
    // nullptr when taken; "interrupts off" or "preemption off".
    const char* not_taken_because = nullptr;
    std::vector<PksCheck> failed;  // in enum order
    uint32_t expected_handler_pkrs = 0;  // the default
    // The interrupted context's own: the register, or for an NMI the cache
    // (which differs only inside pkrs_write()).
    uint32_t expected_return_pkrs = 0;

    bool passed() const { return failed.empty(); }
    bool operator==(const PksInterruptVerdict& o) const;
    bool operator!=(const PksInterruptVerdict& o) const { return !(*this == o); }
};

// Throws std::invalid_argument for a situation no run can produce: an event
// that does not exist, a cache read at a return that did not happen.
PksInterruptVerdict pks_interrupt_verdict(const PksInterruptSituation& situation);

const char* pks_check_name(PksCheck check);          // "handler-default", ...
// The check a pks_check_name() names; nullopt for another name (a report
// read back, faultline merge).
std::optional<PksCheck> parse_pks_check(const std::string& name);
// The model's own text for the reason a verdict's not_taken_because gives,
// "interrupts off" or "preemption off"; nullptr for another text.
const char* pks_not_taken_reason(const std::string& text);
const char* kernel_event_name(KernelEvent event);    // "irq", "nmi", "preempt"
// "taken, passed", "taken, failed: returned, no-kernel-report",
// "not taken (interrupts off), passed".
std::string to_string(const PksInterruptVerdict& verdict);

}  // namespace faultline::models
