// `faultline conformance pk`: QEMU's access-rights and protection-key check
// against the reference model (models/: check_access, SDM vol. 3A 4.6, 4.7),
// over every state the guest can set up. The guest runs each case for real
// (guest-kernel/programs/pk-conformance.c: CPL 3 itself, CPL 0 through the
// kernel's debugfs pks/conformance) and prints what the CPU held; QEMU's
// page-fault records (qemu-patches/0017) say which access faulted and how.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "faultline/campaign/junit.hpp"
#include "faultline/injection/trace.hpp"
#include "faultline/models/pk_check.hpp"

namespace faultline {

class Machine;

// The case format the guest program prints (its first line); the kernel's
// consumer and the program check theirs against each other
// (uapi linux/pk_conformance.h, PKC_VERSION).
constexpr int kPkCaseFormat = 1;
// U/S × R/W × key × CPL × kind × CR0.WP × CR4.SMAP × EFLAGS.AC × CR4.PKE ×
// CR4.PKS × the key's AD/WD in PKRS × in PKRU.
constexpr unsigned kPkCases = 2 * 2 * 16 * 2 * 3 * 2 * 2 * 2 * 2 * 2 * 4 * 4;

struct PkCaseResult {
    unsigned id = 0;
    // The guest set the case up as enumerated and ran it. When false the
    // access is the enumerated one and no answer is compared.
    bool covered = false;
    std::string not_covered_why;
    // Covered: the inputs as the guest read them back from the CPU.
    models::PkAccess access;
    models::PkVerdict model;
    models::PkVerdict qemu;

    bool mismatch() const { return covered && model != qemu; }
};

struct PkConformance {
    std::vector<PkCaseResult> cases;  // in the order they ran
    double seconds = 0;               // the whole command, boot included

    size_t covered() const;
    size_t mismatches() const;
};

// The enumerated access of case `id` (its linear address left 0).
models::PkAccess pk_case_access(unsigned id);

// The program's output and QEMU's page-fault records of the run: each case
// gets the model's answer for its read-back inputs and QEMU's (the next
// record on its address, or allowed). Error when the two do not fit each
// other: a bad line, a record no case accounts for, a record whose CPL, PKRU
// or PKRS differs from its case's; ConfigError when the guest's case format
// is not this harness's.
PkConformance compare_pk_conformance(const std::string& guest_output,
                                     const std::vector<PkEvent>& events);

// Boots nothing: runs /bin/pk-conformance on a booted machine, recording its
// page faults. ConfigError when QEMU does not record page faults.
PkConformance run_pk_conformance(Machine& machine);

// A row per CPL and access kind, the mismatches below (at most `shown`).
std::string pk_conformance_table(const PkConformance& result, size_t shown = 20);
// cases, covered, not_covered, mismatches (each with inputs and both
// answers), rows (the table's), seconds.
nlohmann::json pk_conformance_json(const PkConformance& result);
// --junit: one case a row of the table (CPL and access kind), failed when a
// covered case of it differs from the model (each listed in its body),
// skipped when none could be set up.
std::vector<JunitCase> pk_conformance_junit_cases(const PkConformance& result);

}  // namespace faultline
