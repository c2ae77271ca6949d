// Exact-instruction events: what the faultline-inject device (qemu-patches)
// fires and the guest driver (guest-kernel/patches) carries out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace faultline {

// A process held before its first instruction: its pid and the page-table
// root (CR3 base) that names its address space.
struct Process {
    int pid = 0;
    uint64_t cr3 = 0;
};

// Before the hit-th execution (1-based) of vaddr at CPL 3 in address space cr3.
struct Trigger {
    uint64_t vaddr = 0;
    uint64_t cr3 = 0;
    uint32_t hit = 1;
};

struct Event {
    enum class Kind : uint32_t { preempt = 1, signal = 2, migrate = 3, observe = 255 };
    static constexpr uint64_t kNextCpu = ~uint64_t(0);
    Kind kind = Kind::preempt;
    uint64_t arg = 0;

    static Event preempt() { return {Kind::preempt, 0}; }
    static Event signal(int signo) { return {Kind::signal, uint64_t(signo)}; }
    static Event migrate(int cpu) { return {Kind::migrate, uint64_t(cpu)}; }
    // To the next online CPU after the one the trigger hit on.
    static Event migrate_away() { return {Kind::migrate, kNextCpu}; }
    // Raises nothing: records only the thread of the previous firing
    // reaching the trigger's vaddr or or_at (if non-zero), whichever first.
    static Event observe(uint64_t or_at = 0) { return {Kind::observe, or_at}; }
    std::string name() const;
};

struct ScheduleEntry {
    Trigger trigger;
    Event event;
};

// One fired schedule entry: where and when the event was raised.
struct Firing {
    uint32_t entry = 0;   // index in the schedule
    uint64_t icount = 0;  // guest instructions executed before it
    int vcpu = 0;
    uint64_t rip = 0;     // the trigger's vaddr: the instruction not yet executed
};

// The device's text forms (see hw/i386/faultline-inject.c).
std::string encode_schedule(const std::vector<ScheduleEntry>& schedule);
std::vector<Firing> decode_firings(const std::string& text);

}  // namespace faultline
