// The x86-64 access-rights and protection-key check, as the Intel SDM
// (vol. 3A, 4.6 and 4.7) states it: the oracle QEMU's page walk is compared
// with. Plain C++, no SystemC: PkCheck (pk_check_module.hpp) puts it behind
// a TLM-2.0 target socket.
//
// Scope: IA-32e paging (4- or 5-level; EFER.LMA = 1), the only mode in which
// CR4.PKE and CR4.PKS mean anything (4.6.2). Shadow-stack accesses, HLAT and
// SGX are out of it.
#pragma once

#include <cstdint>
#include <string>

namespace faultline::models {

enum class AccessKind {
    read,
    write,
    instruction_fetch,
    // Accesses to the GDT, LDT, IDT or TSS: supervisor-mode accesses
    // whatever the CPL (4.6.1).
    implicit_supervisor_read,
    implicit_supervisor_write,
};

// The U/S, R/W and XD flags of a set of paging-structure entries.
struct EntryRights {
    bool user = true;
    bool writable = true;
    bool execute_disable = false;
};

struct PkAccess {
    uint64_t linear_address = 0;
    AccessKind kind = AccessKind::read;
    unsigned cpl = 3;  // 0 to 3
    // Every entry of the walk has P = 1. When one has P = 0 no other input
    // but the access itself shapes the error code (4.7).
    bool present = true;
    // The PTE (or the PDE/PDPTE mapping a large page).
    EntryRights leaf;
    uint8_t pkey = 0;  // bits 62:59 of the leaf: 0 to 15
    // The upper levels (PML5E/PML4E, PDPTE, PDE), folded as the SDM folds
    // them (4.6.1): U/S and R/W count only if 1 at every level, XD if 1 at
    // any. The default is what Linux puts there for any user mapping.
    EntryRights upper;
    bool cr0_wp = true;
    bool cr4_pke = false;
    bool cr4_pks = false;
    bool cr4_smep = false;
    bool cr4_smap = false;
    bool eflags_ac = false;
    bool efer_nxe = true;
    uint32_t pkru = 0;
    uint32_t pkrs = 0;  // IA32_PKRS bits 31:0; bits 63:32 are reserved
};

// The #PF error code bits (4.7).
namespace pf {
constexpr uint32_t present = 1u << 0;            // P: 0 for a not-present page
constexpr uint32_t write = 1u << 1;              // W/R
constexpr uint32_t user = 1u << 2;               // U/S: a user-mode access
constexpr uint32_t reserved_bit = 1u << 3;       // RSVD
constexpr uint32_t instruction_fetch = 1u << 4;  // I/D
constexpr uint32_t protection_key = 1u << 5;     // PK
}  // namespace pf

struct PkVerdict {
    bool allowed = true;
    uint32_t error_code = 0;  // the #PF error code when not allowed
    uint64_t cr2 = 0;         // the faulting linear address when not allowed

    static PkVerdict allow() { return {}; }
    static PkVerdict page_fault(uint32_t error_code, uint64_t cr2) {
        return {false, error_code, cr2};
    }
    bool operator==(const PkVerdict& o) const {
        return allowed == o.allowed && error_code == o.error_code && cr2 == o.cr2;
    }
    bool operator!=(const PkVerdict& o) const { return !(*this == o); }
};

// Throws std::invalid_argument for an access no CPU can make: CPL above 3,
// a key above 15.
PkVerdict check_access(const PkAccess& access);

// "allowed" or "#PF 0x27 (P W/R U/S PK) at 0x7f0000001000".
std::string to_string(const PkVerdict& verdict);
std::string to_string(AccessKind kind);

}  // namespace faultline::models
