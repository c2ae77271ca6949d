#include "faultline/conformance/pk_conformance.hpp"

#include <array>
#include <climits>
#include <map>
#include <cstdio>
#include <sstream>

#include "faultline/campaign/report_text.hpp"
#include "faultline/machine/errors.hpp"
#include "faultline/machine/machine.hpp"

namespace faultline {

using models::AccessKind;
using models::PkAccess;
using models::PkVerdict;
using Json = nlohmann::json;

namespace {

constexpr unsigned kCasesPerCpl = kPkCases / 128;
constexpr uint64_t kPage = 4096;

// The FLAGS word of a case line (guest-kernel/programs/pk-conformance.c).
enum Flag : unsigned {
    kind_shift = 0,  // 2 bits
    cpl3 = 1u << 2,
    us = 1u << 3,
    rw = 1u << 4,
    wp = 1u << 5,
    smap = 1u << 6,
    ac = 1u << 7,
    pke = 1u << 8,
    pks = 1u << 9,
    smep = 1u << 10,
    nxe = 1u << 11,
    xd = 1u << 12,
    key_shift = 16,  // 4 bits
};

const std::array<AccessKind, 3> kKinds{AccessKind::read, AccessKind::write,
                                       AccessKind::instruction_fetch};

unsigned kind_index(AccessKind kind) {
    return kind == AccessKind::read ? 0 : kind == AccessKind::write ? 1 : 2;
}

PkAccess access_of_flags(unsigned f, uint32_t pkru, uint32_t pkrs, uint64_t addr) {
    unsigned kind = (f >> kind_shift) & 3;
    if (kind > 2) {
        throw Error("pk-conformance: access kind " + std::to_string(kind) + " in flags " +
                    std::to_string(f));
    }
    PkAccess a;
    a.linear_address = addr;
    a.kind = kKinds[kind];
    a.cpl = f & cpl3 ? 3 : 0;
    a.leaf = {bool(f & us), bool(f & rw), bool(f & xd)};
    a.pkey = (f >> key_shift) & 15;
    // Upper levels: what Linux maps every user page with (U/S = R/W = 1,
    // XD = 0); the consumer changes the leaf only.
    a.cr0_wp = f & wp;
    a.cr4_smap = f & smap;
    a.eflags_ac = f & ac;
    a.cr4_pke = f & pke;
    a.cr4_pks = f & pks;
    a.cr4_smep = f & smep;
    a.efer_nxe = f & nxe;
    a.pkru = pkru;
    a.pkrs = pkrs;
    return a;
}

// The inputs the enumeration varies, equal in both.
bool same_enumerated_inputs(const PkAccess& a, const PkAccess& b) {
    return a.kind == b.kind && a.cpl == b.cpl && a.leaf.user == b.leaf.user &&
           a.leaf.writable == b.leaf.writable && a.pkey == b.pkey && a.cr0_wp == b.cr0_wp &&
           a.cr4_smap == b.cr4_smap && a.eflags_ac == b.eflags_ac && a.cr4_pke == b.cr4_pke &&
           a.cr4_pks == b.cr4_pks && a.pkru == b.pkru && a.pkrs == b.pkrs;
}

// Why the guest reported a case it could not set up (the program's rules).
std::string why_not_covered(const PkAccess& a) {
    if (a.cpl == 0) {
        return "CPL 0 under CR4.PKS with a PKRS that forbids writing the kernel stack (key 0)";
    }
    if (!a.cr0_wp || !a.cr4_smap || !a.cr4_pke || !a.cr4_pks) {
        return "CPL 3 runs with the kernel's CR0.WP, CR4.SMAP, CR4.PKE, CR4.PKS (all 1)";
    }
    return "CPL 3 with a PKRS that closes key 0 (the kernel stack's)";
}

Json verdict_json(const PkVerdict& v) {
    Json j{{"allowed", v.allowed}, {"text", models::to_string(v)}};
    if (!v.allowed) {
        j["error_code"] = v.error_code;
    }
    return j;
}

Json access_json(const PkCaseResult& c) {
    const PkAccess& a = c.access;
    return {{"id", c.id},
            {"addr", a.linear_address},
            {"access", models::to_string(a.kind)},
            {"cpl", a.cpl},
            {"us", a.leaf.user},
            {"rw", a.leaf.writable},
            {"xd", a.leaf.execute_disable},
            {"pkey", a.pkey},
            {"cr0_wp", a.cr0_wp},
            {"cr4_smap", a.cr4_smap},
            {"eflags_ac", a.eflags_ac},
            {"cr4_pke", a.cr4_pke},
            {"cr4_pks", a.cr4_pks},
            {"cr4_smep", a.cr4_smep},
            {"efer_nxe", a.efer_nxe},
            {"pkru", a.pkru},
            {"pkrs", a.pkrs}};
}

struct Row {
    unsigned cpl;
    AccessKind kind;
    size_t cases = 0, covered = 0, allowed = 0, faulted = 0, mismatches = 0;
};

std::vector<Row> rows_of(const PkConformance& result) {
    std::vector<Row> rows;
    for (unsigned cpl : {0u, 3u}) {
        for (AccessKind kind : kKinds) {
            rows.push_back({cpl, kind});
        }
    }
    for (const auto& c : result.cases) {
        Row& r = rows[(c.access.cpl == 3 ? 3 : 0) + kind_index(c.access.kind)];
        r.cases++;
        if (c.covered) {
            r.covered++;
            (c.qemu.allowed ? r.allowed : r.faulted)++;
            r.mismatches += c.mismatch();
        }
    }
    return rows;
}

}  // namespace

size_t PkConformance::covered() const {
    size_t n = 0;
    for (const auto& c : cases) {
        n += c.covered;
    }
    return n;
}

size_t PkConformance::mismatches() const {
    size_t n = 0;
    for (const auto& c : cases) {
        n += c.mismatch();
    }
    return n;
}

PkAccess pk_case_access(unsigned id) {
    if (id >= kPkCases) {
        throw Error("pk-conformance: case " + std::to_string(id) + " is past the last, " +
                    std::to_string(kPkCases - 1));
    }
    // pk-conformance.c's case_id(), undone: page, CPL, then the inner loops.
    unsigned page = id / (2 * kCasesPerCpl), cpl3 = id / kCasesPerCpl % 2, i = id % kCasesPerCpl;
    unsigned pkru = i % 4, pkrs = i / 4 % 4, bits = i / 16;
    unsigned key = page % 16, rw = page / 16 % 2, us = page / 32;
    PkAccess a;
    a.kind = kKinds[bits / 32];
    a.cpl = cpl3 ? 3 : 0;
    a.leaf = {bool(us), bool(rw), false};
    a.pkey = key;
    a.cr0_wp = bits >> 4 & 1;
    a.cr4_smap = bits >> 3 & 1;
    a.eflags_ac = bits >> 2 & 1;
    a.cr4_pke = bits >> 1 & 1;
    a.cr4_pks = bits & 1;
    a.pkru = pkru << (2 * key);
    a.pkrs = pkrs << (2 * key);
    return a;
}

PkConformance compare_pk_conformance(const std::string& guest_output,
                                     const std::vector<PkEvent>& events) {
    std::istringstream in(guest_output);
    std::string line;
    std::getline(in, line);
    char name[32] = "";
    int format = 0;
    unsigned long long page = 0;
    unsigned count = 0;
    if (std::sscanf(line.c_str(), "%31s %d %llx %u", name, &format, &page, &count) != 4 ||
        std::string(name) != "pk-conformance") {
        throw Error("pk-conformance: no header line, the output begins '" + line.substr(0, 80) +
                    "'");
    }
    if (format != kPkCaseFormat || count != kPkCases) {
        throw ConfigError("the guest's pk-conformance prints case format " +
                          std::to_string(format) + " with " + std::to_string(count) +
                          " cases; this harness reads format " + std::to_string(kPkCaseFormat) +
                          " with " + std::to_string(kPkCases) +
                          ": rebuild the kernel and initramfs with the harness (make build)");
    }
    std::vector<const PkEvent*> faults;
    for (const auto& e : events) {
        if (e.kind == PkEvent::Kind::page_fault && e.addr >= page && e.addr < page + kPage) {
            faults.push_back(&e);
        }
    }
    // "w ICOUNT" begins a block; a block's records are those from its
    // instruction count to the next block's (within a block no two cases
    // share an address).
    std::vector<std::string> lines;
    std::vector<uint64_t> block_starts;
    for (std::string l; std::getline(in, l);) {
        unsigned long long icount = 0;
        if (std::sscanf(l.c_str(), "w %llx", &icount) == 1) {
            block_starts.push_back(icount);
        }
        lines.push_back(l);
    }
    block_starts.push_back(UINT64_MAX);
    size_t block = 0;
    uint64_t block_end = 0;
    PkConformance result;
    std::vector<bool> seen(kPkCases);
    size_t next = 0;
    for (const std::string& current : lines) {
        line = current;
        if (line.rfind("w ", 0) == 0) {
            block_end = block_starts[++block];
            if (next < faults.size() && faults[next]->icount < block_starts[block - 1]) {
                throw Error("pk-conformance: a page fault on the case page at " +
                            hex(faults[next]->addr) + " rip " + hex(faults[next]->rip) +
                            " belongs to no case");
            }
            continue;
        }
        unsigned id = 0, flags = 0, pkru = 0, pkrs = 0;
        char dash = 0;
        uint64_t addr = page + 2 * (result.cases.size() % (kPage / 2));
        PkCaseResult c;
        bool ran = true;
        if (std::sscanf(line.c_str(), "%x %c", &id, &dash) == 2 && dash == '-') {
            c.access = pk_case_access(id);
            c.access.linear_address = addr;
            c.not_covered_why = why_not_covered(c.access);
            ran = false;
        } else if (std::sscanf(line.c_str(), "%x %x %x %x", &id, &flags, &pkru, &pkrs) == 4) {
            c.access = access_of_flags(flags, pkru, pkrs, addr);
            c.covered = same_enumerated_inputs(c.access, pk_case_access(id));
            if (!c.covered) {
                c.not_covered_why = "the CPU held other inputs than the case's";
            }
        } else {
            throw Error("pk-conformance: unreadable case line '" + line.substr(0, 80) + "'");
        }
        if (id >= kPkCases || seen[id]) {
            throw Error("pk-conformance: case " + std::to_string(id) +
                        (id >= kPkCases ? " is past the last" : " ran twice"));
        }
        seen[id] = true;
        c.id = id;
        bool faulted = next < faults.size() && faults[next]->addr == addr &&
                       faults[next]->icount < block_end;
        if (faulted && !ran) {
            throw Error("pk-conformance: case " + std::to_string(id) +
                        " did not run, yet QEMU recorded a page fault at " + hex(addr));
        }
        if (faulted) {
            const PkEvent& f = *faults[next++];
            if (unsigned(f.cpl) != c.access.cpl || f.pkru != c.access.pkru ||
                f.pkrs != c.access.pkrs) {
                throw Error("pk-conformance: case " + std::to_string(id) + " says CPL " +
                            std::to_string(c.access.cpl) + ", PKRU " + hex(c.access.pkru) +
                            ", PKRS " + hex(c.access.pkrs) + "; QEMU's fault at " + hex(addr) +
                            " was at CPL " + std::to_string(f.cpl) + ", PKRU " + hex(f.pkru) +
                            ", PKRS " + hex(f.pkrs));
            }
            c.qemu = PkVerdict::page_fault(f.error_code, f.addr);
        }
        if (c.covered) {
            c.model = models::check_access(c.access);
        }
        result.cases.push_back(c);
    }
    if (result.cases.size() != kPkCases) {
        throw Error("pk-conformance: the guest reported " + std::to_string(result.cases.size()) +
                    " of " + std::to_string(kPkCases) + " cases");
    }
    if (next != faults.size()) {
        throw Error("pk-conformance: " + std::to_string(faults.size() - next) +
                    " page faults on the case page belong to no case, the first at " +
                    hex(faults[next]->addr) + " rip " + hex(faults[next]->rip));
    }
    return result;
}

PkConformance run_pk_conformance(Machine& machine) {
    try {
        machine.trace_pk({PkEvent::Kind::page_fault});
    } catch (const Error& e) {
        throw ConfigError("QEMU " + machine.config().qemu +
                          " does not record page faults (faultline-pk-trace kind page-fault, "
                          "qemu-patches/0017): " + e.what());
    }
    RunResult r = machine.run("/bin/pk-conformance", {}, 120000, RunAs::root);
    std::vector<PkEvent> events = machine.pk_events();
    machine.trace_pk({});
    if (!r.signaled && r.exit_code == 3) {
        throw ConfigError("the guest kernel's pks/conformance and /bin/pk-conformance disagree: " +
                          r.stderr_text);
    }
    if (r.signaled || r.timed_out || r.exit_code != 0) {
        throw Error("/bin/pk-conformance " +
                    std::string(r.timed_out  ? "ran out of its budget"
                                : r.signaled ? "was killed by signal " + std::to_string(r.exit_code)
                                             : "exited " + std::to_string(r.exit_code)) +
                    ": " + r.stderr_text);
    }
    return compare_pk_conformance(r.stdout_text, events);
}

std::vector<JunitCase> pk_conformance_junit_cases(const PkConformance& result) {
    std::vector<JunitCase> cases;
    for (const Row& r : rows_of(result)) {
        JunitCase k;
        k.classname = "conformance pk";
        k.name = "cpl " + std::to_string(r.cpl) + " " + models::to_string(r.kind);
        if (r.mismatches > 0) {
            k.verdict = JunitCase::Verdict::failed;
            k.message = std::to_string(r.mismatches) + " of " + std::to_string(r.covered) +
                        " covered cases differ from the model";
            for (const auto& c : result.cases) {
                if (c.mismatch() && c.access.cpl == r.cpl && c.access.kind == r.kind) {
                    k.details += access_json(c).dump() + ": model " + models::to_string(c.model) +
                                 ", QEMU " + models::to_string(c.qemu) + "\n";
                }
            }
        } else if (r.covered == 0) {
            k.verdict = JunitCase::Verdict::skipped;
            k.message = "no case of it could be set up in the guest";
        }
        cases.push_back(k);
    }
    return cases;
}

std::string pk_conformance_table(const PkConformance& result, size_t shown) {
    std::string out;
    char line[160];
    std::snprintf(line, sizeof line, "%-4s %-18s %8s %8s %12s %8s %8s %11s\n", "cpl", "access",
                  "cases", "covered", "not covered", "allowed", "#PF", "mismatches");
    out += line;
    for (const Row& r : rows_of(result)) {
        std::snprintf(line, sizeof line, "%-4u %-18s %8zu %8zu %12zu %8zu %8zu %11zu\n", r.cpl,
                      models::to_string(r.kind).c_str(), r.cases, r.covered, r.cases - r.covered,
                      r.allowed, r.faulted, r.mismatches);
        out += line;
    }
    size_t listed = 0;
    for (const auto& c : result.cases) {
        if (!c.mismatch() || listed++ == shown) {
            continue;
        }
        out += "mismatch " + access_json(c).dump() + "\n  model " + models::to_string(c.model) +
               ", QEMU " + models::to_string(c.qemu) + "\n";
    }
    if (listed > shown) {
        out += "... and " + std::to_string(listed - shown) + " more mismatches\n";
    }
    std::snprintf(line, sizeof line,
                  "pk conformance: %zu cases, %zu covered, %zu not covered, %zu mismatches "
                  "(%.1f s)\n",
                  result.cases.size(), result.covered(), result.cases.size() - result.covered(),
                  result.mismatches(), result.seconds);
    return out + line;
}

Json pk_conformance_json(const PkConformance& result) {
    Json mismatches = Json::array();
    for (const auto& c : result.cases) {
        if (c.mismatch()) {
            mismatches.push_back({{"inputs", access_json(c)},
                                  {"model", verdict_json(c.model)},
                                  {"qemu", verdict_json(c.qemu)}});
        }
    }
    Json rows = Json::array();
    for (const Row& r : rows_of(result)) {
        rows.push_back({{"cpl", r.cpl},
                        {"access", models::to_string(r.kind)},
                        {"cases", r.cases},
                        {"covered", r.covered},
                        {"not_covered", r.cases - r.covered},
                        {"allowed", r.allowed},
                        {"faulted", r.faulted},
                        {"mismatches", r.mismatches}});
    }
    std::map<std::string, size_t> why;
    for (const auto& c : result.cases) {
        if (!c.covered) {
            why[c.not_covered_why]++;
        }
    }
    return {{"cases", result.cases.size()},
            {"covered", result.covered()},
            {"not_covered", result.cases.size() - result.covered()},
            {"not_covered_why", why},
            {"mismatches", mismatches},
            {"rows", rows},
            {"seconds", result.seconds}};
}

}  // namespace faultline
