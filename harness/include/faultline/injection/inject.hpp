// Exact-instruction events: what the faultline-inject device (qemu-patches)
// fires and the guest driver (guest-kernel/patches) carries out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <linux/faultline.h>
#include <nlohmann/json.hpp>

#include "faultline/program/address_space.hpp"

namespace faultline {

// A process held before it runs: its pid, the page-table root (CR3 base)
// that names its address space, and the files mapped in it then.
struct Process {
    int pid = 0;
    uint64_t cr3 = 0;
    std::vector<Mapping> mappings;
};

// Where a spawned program is held: before its first instruction (for a
// dynamically linked one, the loader's), or at its own entry point, once
// the loader has mapped the libraries it needs.
enum class Hold { first_instruction, program_entry };

// Before the hit-th execution (1-based) of vaddr at CPL 3 in address space
// cr3; a kernel trigger at CPL 0, while cr3 is the current address space
// (kernel threads that run lazily on it count too), or in every one when
// cr3 is 0.
struct Trigger {
    uint64_t vaddr = 0;
    uint64_t cr3 = 0;
    uint32_t hit = 1;
    bool kernel = false;
};

struct Event {
#define FAULTLINE_KIND(code, ID, name, ...) name = code,
    // The rows of FAULTLINE_EVENTS (linux/faultline.h), by their codes.
    enum class Kind : uint8_t { FAULTLINE_EVENTS(FAULTLINE_KIND) };
#undef FAULTLINE_KIND
    static constexpr uint64_t kNextCpu = FAULTLINE_ARG_DEFAULT;
    static constexpr uint64_t kTriggerPage = FAULTLINE_ARG_DEFAULT;
    Kind kind = Kind::preempt;
    uint64_t arg = 0;

    static Event preempt() { return {Kind::preempt, 0}; }
    static Event signal(int signo) { return {Kind::signal, uint64_t(signo)}; }
    static Event migrate(int cpu) { return {Kind::migrate, uint64_t(cpu)}; }
    // To the next online CPU after the one the trigger hit on.
    static Event migrate_away() { return {Kind::migrate, kNextCpu}; }
    // The task's next access to the page holding addr takes a real #PF (a
    // NUMA hinting fault); the page and its content stay as they were.
    static Event page_fault(uint64_t addr) { return {Kind::page_fault, addr}; }
    // The same on the page of the trigger's instruction: its fetch faults.
    static Event page_fault_at_trigger() { return {Kind::page_fault, kTriggerPage}; }
    // Raises nothing: the firing is only recorded.
    static Event none() { return {Kind::none, 0}; }
    // Any kind by its name, for those without a maker of their own; no arg
    // is the default target. Throws ConfigError for an unknown name.
    static Event named(const std::string& name, uint64_t arg = FAULTLINE_ARG_DEFAULT);
    std::string name() const;
};

// Every event kind, once: FAULTLINE_EVENTS of linux/faultline.h, the table
// QEMU and the guest driver read too. The CLI's --events, the bindings, the
// sweep's JSON and picture and what it asks models::RseqRule read it here.
// Adding a kind is a row there and a case in the guest driver.
struct EventKind {
    Event::Kind kind;
    const char* name;      // in the CLI, JSON, Python and the picture
    const char* qmp_name;  // in faultline-arm and query-faultline
    int arg;               // what its argument is: FAULTLINE_ARG_*
    int rseq_event;        // what kernel/rseq.c sees of it: FAULTLINE_RSEQ_*
    int at;                // where it fires: FAULTLINE_AT_*

    bool takes_arg() const { return arg != FAULTLINE_ARG_NONE; }
    bool fires_at_user() const { return at & FAULTLINE_AT_USER; }
    bool fires_at_kernel() const { return at & FAULTLINE_AT_KERNEL; }
    // The rseq sweep fires every kind that reaches the guest at a user
    // instruction; the kernel sweep every one that does at a kernel one.
    bool swept() const { return kind != Event::Kind::none && fires_at_user(); }
    bool kernel_swept() const { return kind != Event::Kind::none && fires_at_kernel(); }
    // The argument a sweep gives it: a signal's number comes from the
    // sweep's config, every other argument is the default target.
    uint64_t sweep_arg(int signo) const;
    // Guest time the program may lose to it beyond its own work: a fault
    // made to block sleeps a tick (two at HZ=100 cover where in the tick it
    // starts); anything else waits at most for other threads' work, which
    // the baseline's double in run_budget_ms covers, so a millisecond.
    uint32_t slack_ms() const;
};

const std::vector<EventKind>& event_kinds();
const EventKind& event_kind(Event::Kind kind);
// Throws ConfigError naming the known kinds.
const EventKind& event_kind_named(const std::string& name);
// The names of the kinds a sweep fires, in table order.
std::vector<std::string> swept_event_names();
// The same as --events takes them: "preempt,signal,...".
std::string swept_event_list();
// What a kernel sweep fires, in table order, and as --events takes them.
std::vector<std::string> kernel_event_names();
std::string kernel_event_list();

// The guest time a program run with these events may take: what its
// baseline took (baseline_icount instructions, at 1 ns each) twice over
// (a migration can leave one CPU two threads' work), two ticks for the
// run, and each event's slack_ms(), never more than limit (0: no limit).
// A run past it is a livelock, ended as soon as that is certain, not at a
// fixed budget sized for the slowest event. Same inputs, same budget.
uint32_t run_budget_ms(uint64_t baseline_icount, const std::vector<Event::Kind>& events,
                       uint32_t limit);

struct ScheduleEntry {
    Trigger trigger;
    Event event;
    // Non-zero: after the event, wait for the thread that hit to arrive back
    // at the trigger's vaddr or at watch (e.g. an rseq abort handler) and
    // record which, before the next entry is armed.
    uint64_t watch = 0;
    // A kernel trigger: the offset from the per-CPU base of a u32 the device
    // reads when the interrupted context returns (0: none).
    uint64_t percpu = 0;
};

// One fired schedule entry: where and when QEMU raised the event, and what
// the guest made of it.
struct Firing {
    uint32_t entry = 0;   // index in the schedule
    uint64_t icount = 0;  // guest instructions executed before it
    int vcpu = 0;
    uint64_t rip = 0;     // the trigger's vaddr: the instruction not yet executed
    // For an entry with a watch: where that thread arrived next (the
    // trigger's vaddr or the watch address) and when; 0 while it has not.
    uint64_t next_rip = 0;
    uint64_t next_icount = 0;
    // The guest kernel answered that it carried the event out. QEMU raising
    // it is not enough: the guest may find nothing to do (no page at the
    // address, the task already on the target CPU).
    bool confirmed = false;
    // The guest's answer: "done", or why not ("same-cpu", "offline",
    // "unmapped", "exiting", "refused"); "" while it has not answered, and
    // for Event::none().
    std::string status;
    // What a kernel trigger's checks need, recorded by QEMU (the handler's
    // register reported by the guest's handler, read with RDMSR):
    uint32_t pkrs = 0;                  // IA32_PKRS when the event came
    bool interrupts_enabled = false;    // EFLAGS.IF then
    bool nmis_blocked = false;          // an NMI was being handled then
    std::optional<uint32_t> percpu;     // the entry's per-CPU variable then, if read
    std::optional<uint32_t> handler_pkrs;
    // A kernel trigger's context came back to the instruction (next_rip):
    // on which vCPU, with what IA32_PKRS and per-CPU variable (if readable).
    std::optional<int> next_vcpu;
    uint32_t next_pkrs = 0;
    std::optional<uint32_t> next_percpu;
};

// The QMP forms (qemu-patches: qapi/misc-target.json): the arguments of
// faultline-arm, and the firings in what query-faultline returns.
nlohmann::json faultline_arm_arguments(const std::vector<ScheduleEntry>& schedule);
std::vector<Firing> firings_of(const nlohmann::json& query_faultline_reply);

}  // namespace faultline
