// `faultline conformance pks`: what a kernel under test must pass for
// supervisor protection keys, on one boot: every pks-selftest case, kernel
// sweeps (faultline/campaign/kernel_sweep.hpp) of the paths that write
// IA32_PKRS or the per-page unprotect counts (rights changes, kmap and
// kunmap, the #PF open path, softirq and interrupt entry and exit, the
// context switch), and QEMU's page-permission check against the model
// (conformance pk).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline {

class Machine;

struct PksCheckResult {
    std::string name;
    bool passed = false;
    // What failed and which rule caught it ("3 of 54 reached cells failed:
    // nmi handler-default"), or what passed.
    std::string detail;
};

struct PksConformance {
    std::vector<PksCheckResult> checks;
    double seconds = 0;  // boot included

    size_t failed() const;
    bool passed() const { return failed() == 0; }
};

// On a booted machine whose kernel's symbols are in vmlinux (the kernel
// the machine boots). The sweeps' workloads are pks-selftest cases.
PksConformance run_pks_conformance(Machine& machine, const std::string& vmlinux);

std::string pks_conformance_table(const PksConformance& result);
nlohmann::json pks_conformance_json(const PksConformance& result);

}  // namespace faultline
