#include "faultline/models/pk_check.hpp"

#include <cstdio>
#include <stdexcept>

namespace faultline::models {

namespace {

// 4.6.2: PKRU and IA32_PKRS hold, for key i, ADi in bit 2i and WDi in bit 2i+1.
bool access_disabled(uint32_t rights, uint8_t key) { return (rights >> (2 * key)) & 1; }
bool write_disabled(uint32_t rights, uint8_t key) { return (rights >> (2 * key + 1)) & 1; }

struct AccessTraits {
    bool write, fetch, implicit, user_mode;
};

// 4.6.2 (and the PK flag of 4.7, which states the same condition): a
// protection key controls data accesses only; PKRU governs user-mode
// addresses when CR4.PKE = 1, IA32_PKRS supervisor-mode addresses when
// CR4.PKS = 1. ADi forbids every data access; WDi forbids user-mode writes,
// and supervisor-mode writes only when CR0.WP = 1.
bool key_denies(const PkAccess& a, const AccessTraits& x, bool user_address) {
    if (x.fetch) {
        return false;
    }
    uint32_t rights;
    if (user_address && a.cr4_pke) {
        rights = a.pkru;
    } else if (!user_address && a.cr4_pks) {
        rights = a.pkrs;
    } else {
        return false;
    }
    return access_disabled(rights, a.pkey) ||
           (write_disabled(rights, a.pkey) && x.write && (a.cr0_wp || x.user_mode));
}

// 4.6.1 without its protection-key clauses (key_denies holds them).
bool paging_allows(const PkAccess& a, const AccessTraits& x, bool user_address, bool writable,
                   bool execute_disable) {
    // IA32_EFER.NXE = 1 makes XD = 1 at any level forbid fetches (with
    // NXE = 0 a set XD bit is a reserved-bit fault, caught before this).
    const bool fetch_disabled = a.efer_nxe && execute_disable;
    if (x.user_mode) {
        // User-mode accesses: user-mode addresses only; writes need R/W = 1
        // at every level.
        if (!user_address) {
            return false;
        }
        return x.fetch ? !fetch_disabled : !x.write || writable;
    }
    // Supervisor-mode accesses.
    if (x.fetch) {
        // CR4.SMEP = 1: no fetch from a user-mode address.
        return !(user_address && a.cr4_smep) && !fetch_disabled;
    }
    // CR4.SMAP = 1: data accesses to user-mode addresses only explicit ones
    // with EFLAGS.AC = 1.
    if (user_address && a.cr4_smap && (x.implicit || !a.eflags_ac)) {
        return false;
    }
    // CR0.WP = 1: supervisor-mode writes need R/W = 1 at every level, to
    // supervisor- and user-mode addresses alike; CR0.WP = 0 lets them write
    // read-only pages.
    return !x.write || !a.cr0_wp || writable;
}

}  // namespace

PkVerdict check_access(const PkAccess& a) {
    if (a.cpl > 3) {
        throw std::invalid_argument("PkCheck: CPL " + std::to_string(a.cpl) + " does not exist");
    }
    if (a.pkey > 15) {
        throw std::invalid_argument("PkCheck: key " + std::to_string(a.pkey) +
                                    " does not fit PTE bits 62:59");
    }
    AccessTraits x{};
    x.write = a.kind == AccessKind::write || a.kind == AccessKind::implicit_supervisor_write;
    x.fetch = a.kind == AccessKind::instruction_fetch;
    x.implicit = a.kind == AccessKind::implicit_supervisor_read ||
                 a.kind == AccessKind::implicit_supervisor_write;
    // 4.6.1: CPL 3 makes user-mode accesses, CPL < 3 supervisor-mode ones;
    // implicit accesses are supervisor-mode accesses at any CPL.
    x.user_mode = a.cpl == 3 && !x.implicit;

    // 4.7: W/R, U/S and I/D describe the access, not the page, and are set
    // in every error code. I/D needs a fetch and CR4.SMEP = 1 or
    // IA32_EFER.NXE = 1 (CR4.PAE = 1 holds in IA-32e mode).
    uint32_t code = (x.write ? pf::write : 0) | (x.user_mode ? pf::user : 0) |
                    (x.fetch && (a.cr4_smep || a.efer_nxe) ? pf::instruction_fetch : 0);

    // 4.7: P = 0 when no translation exists because an entry is not present.
    if (!a.present) {
        return PkVerdict::page_fault(code, a.linear_address);
    }
    const bool execute_disable = a.leaf.execute_disable || a.upper.execute_disable;
    // 4.5 (the entry formats): with IA32_EFER.NXE = 0, bit 63 (XD) of a
    // present entry is reserved. 4.7: a reserved bit set means no
    // translation, so RSVD = 1 with P = 1, and no protection key applies.
    if (execute_disable && !a.efer_nxe) {
        return PkVerdict::page_fault(code | pf::present | pf::reserved_bit, a.linear_address);
    }
    // 4.6.1: a user-mode address has U/S = 1 in every paging-structure entry.
    const bool user_address = a.leaf.user && a.upper.user;
    const bool writable = a.leaf.writable && a.upper.writable;

    // 4.7: the PK flag is set whenever the key forbids the access, even when
    // the ordinary rights forbid it as well.
    const bool denied_by_key = key_denies(a, x, user_address);
    if (!denied_by_key && paging_allows(a, x, user_address, writable, execute_disable)) {
        return PkVerdict::allow();
    }
    // 4.7: P = 1 for a page-level protection violation.
    return PkVerdict::page_fault(
        code | pf::present | (denied_by_key ? pf::protection_key : 0), a.linear_address);
}

std::string to_string(const PkVerdict& v) {
    if (v.allowed) {
        return "allowed";
    }
    static const char* const names[] = {"P", "W/R", "U/S", "RSVD", "I/D", "PK"};
    char head[64];
    std::snprintf(head, sizeof head, "#PF 0x%02x (", v.error_code);
    std::string out = head;
    const char* sep = "";
    for (unsigned bit = 0; bit < 6; ++bit) {
        if (v.error_code & (1u << bit)) {
            out += sep;
            out += names[bit];
            sep = " ";
        }
    }
    char tail[40];
    std::snprintf(tail, sizeof tail, ") at %#llx", static_cast<unsigned long long>(v.cr2));
    return out + tail;
}

std::string to_string(AccessKind kind) {
    switch (kind) {
    case AccessKind::read: return "read";
    case AccessKind::write: return "write";
    case AccessKind::instruction_fetch: return "instruction_fetch";
    case AccessKind::implicit_supervisor_read: return "implicit_supervisor_read";
    case AccessKind::implicit_supervisor_write: return "implicit_supervisor_write";
    }
    return "?";
}

}  // namespace faultline::models
