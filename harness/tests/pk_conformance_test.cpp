#include "faultline/conformance/pk_conformance.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "faultline/machine/errors.hpp"

using namespace faultline;
using models::AccessKind;

namespace {

constexpr uint64_t kPage = 0x7f0000000000;

// A run as guest-kernel/programs/pk-conformance.c prints it, every case
// covered and read back as enumerated, under CR4.SMEP and EFER.NXE, and the
// page faults QEMU would record if it answered as the model does.
struct RecordedRun {
    std::string output;
    std::vector<PkEvent> events;
};

unsigned flags_of(const models::PkAccess& a) {
    unsigned kind = a.kind == AccessKind::read ? 0 : a.kind == AccessKind::write ? 1 : 2;
    return kind | (a.cpl == 3) << 2 | a.leaf.user << 3 | a.leaf.writable << 4 | a.cr0_wp << 5 |
           a.cr4_smap << 6 | a.eflags_ac << 7 | a.cr4_pke << 8 | a.cr4_pks << 9 | 1u << 10 |
           1u << 11 | unsigned(a.pkey) << 16;
}

RecordedRun model_run() {
    RecordedRun run;
    char line[80];
    std::snprintf(line, sizeof line, "pk-conformance %d %#llx %u\n", kPkCaseFormat,
                  static_cast<unsigned long long>(kPage), kPkCases);
    run.output = line;
    run.output += "w 0\n";  // one block: every record's instruction count is in it
    for (unsigned id = 0; id < kPkCases; ++id) {
        models::PkAccess a = pk_case_access(id);
        a.cr4_smep = a.efer_nxe = true;
        a.linear_address = kPage + 2 * (id % 2048);
        std::snprintf(line, sizeof line, "%x %x %x %x\n", id, flags_of(a), a.pkru, a.pkrs);
        run.output += line;
        models::PkVerdict v = models::check_access(a);
        if (!v.allowed) {
            PkEvent e;
            e.kind = PkEvent::Kind::page_fault;
            e.cpl = int(a.cpl);
            e.addr = v.cr2;
            e.error_code = v.error_code;
            e.pkru = a.pkru;
            e.pkrs = a.pkrs;
            run.events.push_back(e);
        }
    }
    return run;
}

const RecordedRun& agreeing() {
    static const RecordedRun run = model_run();
    return run;
}

// The first case the model says faults with PK set at CPL 0.
size_t first_pk_fault() {
    const auto& events = agreeing().events;
    for (size_t i = 0; i < events.size(); ++i) {
        if (events[i].cpl == 0 && (events[i].error_code & models::pf::protection_key)) {
            return i;
        }
    }
    return 0;
}

}  // namespace

TEST(PkConformance, CasesDecodeToTheEnumeratedSpace) {
    // Page (U/S 1, R/W 0, key 5), CPL 3, write, WP 1, SMAP 0, AC 1, PKE 1,
    // PKS 0, PKRS setting 2, PKRU setting 3: the program's case_id().
    unsigned page = (1 * 2 + 0) * 16 + 5;
    unsigned inner = (((((1 * 2 + 1) * 2 + 0) * 2 + 1) * 2 + 1) * 2 + 0) * 16 + 2 * 4 + 3;
    models::PkAccess a = pk_case_access(page * 3072 + 1536 + inner);
    EXPECT_EQ(a.kind, AccessKind::write);
    EXPECT_EQ(a.cpl, 3u);
    EXPECT_TRUE(a.leaf.user);
    EXPECT_FALSE(a.leaf.writable);
    EXPECT_EQ(a.pkey, 5);
    EXPECT_TRUE(a.cr0_wp);
    EXPECT_FALSE(a.cr4_smap);
    EXPECT_TRUE(a.eflags_ac);
    EXPECT_TRUE(a.cr4_pke);
    EXPECT_FALSE(a.cr4_pks);
    EXPECT_EQ(a.pkrs, 2u << 10);
    EXPECT_EQ(a.pkru, 3u << 10);
    EXPECT_THROW(pk_case_access(kPkCases), Error);
}

TEST(PkConformance, AgreeingAnswersGiveNoMismatch) {
    PkConformance r = compare_pk_conformance(agreeing().output, agreeing().events);
    EXPECT_EQ(r.cases.size(), kPkCases);
    EXPECT_EQ(r.covered(), size_t(kPkCases));
    EXPECT_EQ(r.mismatches(), 0u);
}

// QEMU's error code without PK where the model sets it: exactly that case.
TEST(PkConformance, ADifferentErrorCodeIsAMismatchWithBothAnswers) {
    RecordedRun run = agreeing();
    size_t i = first_pk_fault();
    run.events[i].error_code &= ~models::pf::protection_key;
    PkConformance r = compare_pk_conformance(run.output, run.events);
    ASSERT_EQ(r.mismatches(), 1u);
    nlohmann::json j = pk_conformance_json(r);
    ASSERT_EQ(j["mismatches"].size(), 1u);
    const auto& m = j["mismatches"][0];
    EXPECT_EQ(m["inputs"]["addr"], run.events[i].addr);
    EXPECT_EQ(m["model"]["error_code"].get<uint32_t>() & models::pf::protection_key,
              models::pf::protection_key);
    EXPECT_EQ(m["qemu"]["error_code"].get<uint32_t>() & models::pf::protection_key, 0u);
    EXPECT_NE(pk_conformance_table(r).find(", 1 mismatches"), std::string::npos);
}

// A fault QEMU never raised: the model's #PF against QEMU's "allowed".
TEST(PkConformance, AMissingFaultIsAMismatch) {
    RecordedRun run = agreeing();
    run.events.erase(run.events.begin() + 7);
    PkConformance r = compare_pk_conformance(run.output, run.events);
    EXPECT_EQ(r.mismatches(), 1u);
}

TEST(PkConformance, ARecordNoCaseAccountsForIsAnError) {
    RecordedRun run = agreeing();
    PkEvent stray = run.events[0];
    stray.addr = kPage + 4094;
    run.events.push_back(stray);
    EXPECT_THROW(compare_pk_conformance(run.output, run.events), Error);
}

TEST(PkConformance, ARecordUnderAnotherPkruThanItsCaseIsAnError) {
    RecordedRun run = agreeing();
    run.events[first_pk_fault()].pkru ^= 1;
    EXPECT_THROW(compare_pk_conformance(run.output, run.events), Error);
}

TEST(PkConformance, ACaseTheGuestCannotSetUpIsNotCoveredNeverPassing) {
    RecordedRun run = agreeing();
    // Case 0 (CPL 0, read, every flag 0) allowed by the model: reported "-".
    size_t line = run.output.find('\n', run.output.find('\n') + 1) + 1;
    run.output.replace(line, run.output.find('\n', line) - line, "0 -");
    PkConformance r = compare_pk_conformance(run.output, run.events);
    EXPECT_EQ(r.covered(), size_t(kPkCases) - 1);
    EXPECT_FALSE(r.cases[0].covered);
    EXPECT_EQ(pk_conformance_json(r)["not_covered"], 1);
}

TEST(PkConformance, AnotherCaseFormatIsAConfigError) {
    RecordedRun run = agreeing();
    run.output.replace(0, run.output.find('\n'), "pk-conformance 2 0x7f0000000000 196608");
    try {
        compare_pk_conformance(run.output, run.events);
        FAIL() << "format 2 accepted";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("case format 2"), std::string::npos) << e.what();
    }
}

// --junit: a row with a mismatch fails and lists it; a row nothing of
// which could be set up is skipped; the others pass.
TEST(PkConformanceJunit, OneCaseARowFailedByItsMismatches) {
    PkConformance result;
    for (unsigned id = 0; id < kPkCases; ++id) {
        PkCaseResult c;
        c.id = id;
        c.access = pk_case_access(id);
        c.covered = c.access.cpl == 3 || c.access.kind != models::AccessKind::instruction_fetch;
        c.model = c.qemu = models::check_access(c.access);
        result.cases.push_back(c);
    }
    auto wrong = std::find_if(result.cases.begin(), result.cases.end(), [](const PkCaseResult& c) {
        return c.access.cpl == 3 && c.access.kind == models::AccessKind::write;
    });
    ASSERT_NE(wrong, result.cases.end());
    wrong->qemu.allowed = !wrong->qemu.allowed;
    std::vector<JunitCase> cases = pk_conformance_junit_cases(result);
    ASSERT_EQ(cases.size(), 6u);
    for (const auto& k : cases) {
        JunitCase::Verdict expected = k.name == "cpl 3 write"               ? JunitCase::Verdict::failed
                                      : k.name == "cpl 0 instruction_fetch" ? JunitCase::Verdict::skipped
                                                                            : JunitCase::Verdict::passed;
        EXPECT_EQ(k.verdict, expected) << k.name;
    }
    auto covered_cpl3_writes = std::count_if(
        result.cases.begin(), result.cases.end(), [](const PkCaseResult& c) {
            return c.covered && c.access.cpl == 3 && c.access.kind == models::AccessKind::write;
        });
    EXPECT_EQ(cases[4].name, "cpl 3 write");
    EXPECT_EQ(cases[4].message, "1 of " + std::to_string(covered_cpl3_writes) +
                                    " covered cases differ from the model");
    EXPECT_NE(cases[4].details.find(", QEMU "), std::string::npos);
}
