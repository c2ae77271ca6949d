// Protection-key events that QEMU records (qemu-patches/0013): every write of
// PKRU (WRPKRU, an XRSTOR that loads it) and of IA32_PKRS, and every page
// fault a protection key caused, each with the instruction count, vCPU and
// address space it happened at. The ground truth a PK test checks against.
// And every page fault, whatever its cause (qemu-patches/0017): the answer
// `faultline conformance pk` compares with the model's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline {

struct PkEvent {
    enum class Kind { wrpkru, xrstor_pkru, pkrs_write, pk_fault, page_fault };
    enum class Access { read, write, fetch };
    Kind kind = Kind::wrpkru;
    // Guest instructions executed (all vCPUs) before the instruction that
    // wrote the register or faulted: the count faultline-inject's firings use.
    uint64_t icount = 0;
    int vcpu = 0;
    uint64_t rip = 0;  // that instruction
    int cpl = 0;
    uint64_t cr3 = 0;  // page-table root, PCID and flag bits cleared
    // wrpkru, xrstor_pkru, pkrs_write: the register before and after.
    uint64_t old = 0;
    uint64_t value = 0;
    // pk_fault: the linear address (CR2), the error code as pushed (P, W/R,
    // U/S, I/D, PK...), the page's key, the access it denied, and the PKRU
    // (user page) or PKRS (supervisor page) value the check used.
    uint64_t addr = 0;
    uint32_t error_code = 0;
    int pkey = 0;
    Access access = Access::read;
    uint32_t pkr = 0;
    // page_fault: the linear address, error code and access as above (a
    // fetch too), and PKRU and IA32_PKRS when it was raised.
    uint32_t pkru = 0;
    uint32_t pkrs = 0;

    bool is_fault() const { return kind == Kind::pk_fault || kind == Kind::page_fault; }
    std::string name() const;
    // The form of a --pk-trace line: the fields of its kind only, the kind
    // and the access by name.
    nlohmann::json json() const;
};

// Every kind, once: the names the CLI, JSON and Python use, and QAPI's
// FaultlinePkKind (a test holds the two in step).
struct PkEventKind {
    PkEvent::Kind kind;
    const char* name;
    const char* qmp_name;
    // Part of "all": page_fault is not (every demand fault of every
    // program is one); it is recorded when named.
    bool in_all;
};

const std::vector<PkEventKind>& pk_event_kinds();
const PkEventKind& pk_event_kind(PkEvent::Kind kind);
// ConfigError naming the known kinds for a name that is none of them.
PkEvent::Kind pk_event_kind_named(const std::string& name);
// "wrpkru,pk_fault" -> the kinds; "all" -> every kind in_all. ConfigError for an
// unknown or empty name.
std::vector<PkEvent::Kind> pk_event_kinds_from_list(const std::string& list);

// The most events QEMU keeps between two reads; past it they are lost, and
// reading them fails.
constexpr uint32_t kPkTraceLimit = 1u << 20;

// The QMP forms (qemu-patches/0013: qapi/misc-target.json): the arguments of
// faultline-pk-trace (no kinds: stop recording), and the events in what
// query-faultline-pk-events returns (QmpError when QEMU lost some).
nlohmann::json faultline_pk_trace_arguments(const std::vector<PkEvent::Kind>& kinds,
                                            std::optional<uint64_t> cr3);
std::vector<PkEvent> pk_events_of(const nlohmann::json& query_reply);

}  // namespace faultline
