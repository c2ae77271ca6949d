// Hand-checked cases, each from the Intel SDM vol. 3A section it names.
#include "faultline/models/pk_check.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "bench.hpp"

namespace faultline::models {

void PrintTo(const PkVerdict& v, std::ostream* os) { *os << to_string(v); }

namespace {

constexpr uint64_t kAddress = 0x7f0000001000;

// A CPL 3 read of a writable user page with key 1; PKE on, NXE on, WP on.
PkAccess user_read() {
    PkAccess a;
    a.linear_address = kAddress;
    a.kind = AccessKind::read;
    a.cpl = 3;
    a.pkey = 1;
    a.cr4_pke = true;
    return a;
}

PkAccess with(PkAccess a, AccessKind kind, unsigned cpl) {
    a.kind = kind;
    a.cpl = cpl;
    return a;
}

PkAccess supervisor_page(PkAccess a) {
    a.leaf.user = false;
    return a;
}

PkVerdict fault(uint32_t error_code) { return PkVerdict::page_fault(error_code, kAddress); }

const PkVerdict kAllowed = PkVerdict::allow();
constexpr uint32_t P = pf::present, W = pf::write, U = pf::user, RSVD = pf::reserved_bit,
                   ID = pf::instruction_fetch, PK = pf::protection_key;
constexpr uint32_t ad(unsigned key) { return 1u << (2 * key); }
constexpr uint32_t wd(unsigned key) { return 1u << (2 * key + 1); }

// 4.6.2: ADi forbids data accesses to user-mode addresses with key i; 4.7:
// P, U/S and PK.
TEST(PkCheckSdm, UserReadOfAKeyWithAccessDisableFaultsWithPk) {
    PkAccess a = user_read();
    a.pkru = ad(1);
    EXPECT_EQ(check_access(a), fault(P | U | PK));
    EXPECT_EQ(check_access(with(a, AccessKind::write, 3)), fault(P | W | U | PK));
}

// 4.6.2: WDi forbids user-mode writes whatever CR0.WP; reads stay allowed.
TEST(PkCheckSdm, UserWriteOfAKeyWithWriteDisableFaultsWithPk) {
    PkAccess a = user_read();
    a.pkru = wd(1);
    EXPECT_EQ(check_access(with(a, AccessKind::write, 3)), fault(P | W | U | PK));
    EXPECT_EQ(check_access(a), kAllowed);
    a.cr0_wp = false;
    EXPECT_EQ(check_access(with(a, AccessKind::write, 3)), fault(P | W | U | PK));
}

// 4.6.2: "If CR0.WP = 0, WDi does not affect supervisor-mode write accesses
// to user-mode addresses with protection key i."
TEST(PkCheckSdm, WriteDisableStopsSupervisorWritesOnlyWithCr0Wp) {
    PkAccess a = with(user_read(), AccessKind::write, 0);
    a.pkru = wd(1);
    EXPECT_EQ(check_access(a), fault(P | W | PK));
    a.cr0_wp = false;
    EXPECT_EQ(check_access(a), kAllowed);
}

// 4.6.1 (supervisor reads of user-mode addresses need a key that permits
// reads) and 4.7 (U/S = 0: a supervisor-mode access).
TEST(PkCheckSdm, AccessDisableStopsSupervisorReadsOfUserPages) {
    PkAccess a = with(user_read(), AccessKind::read, 0);
    a.pkru = ad(1);
    EXPECT_EQ(check_access(a), fault(P | PK));
}

// 4.6.2: a protection key "does not in any way affect instruction fetches".
TEST(PkCheckSdm, ProtectionKeysNeverStopInstructionFetches) {
    PkAccess a = with(user_read(), AccessKind::instruction_fetch, 3);
    a.pkru = 0xffffffff;
    EXPECT_EQ(check_access(a), kAllowed);
    a = supervisor_page(with(a, AccessKind::instruction_fetch, 0));
    a.cr4_pks = true;
    a.pkrs = 0xffffffff;
    EXPECT_EQ(check_access(a), kAllowed);
}

// 4.6.2: with CR4.PKE = 0 the processor associates no key with an address.
TEST(PkCheckSdm, PkruIsIgnoredWithoutCr4Pke) {
    PkAccess a = with(user_read(), AccessKind::write, 3);
    a.cr4_pke = false;
    a.pkru = 0xffffffff;
    EXPECT_EQ(check_access(a), kAllowed);
}

// 4.6.2: PKRU[2i] is ADi, PKRU[2i+1] is WDi; the key is PTE bits 62:59.
TEST(PkCheckSdm, EachKeyReadsItsOwnPkruBits) {
    for (unsigned key = 0; key < 16; ++key) {
        SCOPED_TRACE(key);
        PkAccess a = user_read();
        a.pkru = ad(key);
        a.pkey = uint8_t(key);
        EXPECT_EQ(check_access(a), fault(P | U | PK));
        a.pkey = uint8_t((key + 1) % 16);
        EXPECT_EQ(check_access(a), kAllowed);
        a.pkru = wd(key);
        a.pkey = uint8_t(key);
        EXPECT_EQ(check_access(a), kAllowed);
        EXPECT_EQ(check_access(with(a, AccessKind::write, 3)), fault(P | W | U | PK));
    }
}

// 4.6.2: PKRU governs user-mode addresses only.
TEST(PkCheckSdm, PkruDoesNotGovernSupervisorAddresses) {
    PkAccess a = supervisor_page(with(user_read(), AccessKind::write, 0));
    a.pkru = 0xffffffff;
    EXPECT_EQ(check_access(a), kAllowed);
}

// 4.6.2: with CR4.PKS = 1, IA32_PKRS governs supervisor-mode addresses.
TEST(PkCheckSdm, PkrsAccessDisableStopsSupervisorReadsOfSupervisorPages) {
    PkAccess a = supervisor_page(with(user_read(), AccessKind::read, 0));
    a.pkey = 2;
    a.pkrs = ad(2);
    EXPECT_EQ(check_access(a), kAllowed);
    a.cr4_pks = true;
    EXPECT_EQ(check_access(a), fault(P | PK));
    a.pkey = 3;
    EXPECT_EQ(check_access(a), kAllowed);
}

// 4.6.2: PKRS's WDi stops supervisor-mode writes only with CR0.WP = 1.
TEST(PkCheckSdm, PkrsWriteDisableStopsSupervisorWritesOnlyWithCr0Wp) {
    PkAccess a = supervisor_page(with(user_read(), AccessKind::write, 0));
    a.cr4_pks = true;
    a.pkey = 2;
    a.pkrs = wd(2);
    EXPECT_EQ(check_access(a), fault(P | W | PK));
    a.cr0_wp = false;
    EXPECT_EQ(check_access(a), kAllowed);
}

// 4.6.2: IA32_PKRS governs supervisor-mode addresses only.
TEST(PkCheckSdm, PkrsDoesNotGovernUserAddresses) {
    PkAccess a = with(user_read(), AccessKind::write, 0);
    a.cr4_pke = false;
    a.cr4_pks = true;
    a.pkrs = 0xffffffff;
    EXPECT_EQ(check_access(a), kAllowed);
}

// 4.7: the PK flag states the key's condition alone, so it is set even when
// R/W = 0 forbids the write as well.
TEST(PkCheckSdm, PkFlagAccompaniesAReadOnlyViolation) {
    PkAccess a = with(user_read(), AccessKind::write, 3);
    a.leaf.writable = false;
    EXPECT_EQ(check_access(a), fault(P | W | U));
    a.pkru = wd(1);
    EXPECT_EQ(check_access(a), fault(P | W | U | PK));
}

// 4.7: the same for a user-mode access to a supervisor-mode address whose
// key IA32_PKRS disables.
TEST(PkCheckSdm, UserAccessToASupervisorPageReportsPkWhenPkrsForbidsIt) {
    PkAccess a = supervisor_page(user_read());
    a.pkrs = ad(1);
    EXPECT_EQ(check_access(a), fault(P | U));
    a.cr4_pks = true;
    EXPECT_EQ(check_access(a), fault(P | U | PK));
}

// 4.6.1: user-mode accesses reach user-mode addresses only; 4.7: I/D for
// the fetch, as NXE = 1.
TEST(PkCheckSdm, UserModeCannotReachSupervisorAddresses) {
    PkAccess a = supervisor_page(user_read());
    EXPECT_EQ(check_access(a), fault(P | U));
    EXPECT_EQ(check_access(with(a, AccessKind::write, 3)), fault(P | W | U));
    EXPECT_EQ(check_access(with(a, AccessKind::instruction_fetch, 3)), fault(P | U | ID));
}

// 4.6.1: U/S = 0 in any paging-structure entry makes a supervisor-mode
// address, which PKRU then does not govern (4.6.2).
TEST(PkCheckSdm, UpperLevelSupervisorFlagMakesASupervisorAddress) {
    PkAccess a = user_read();
    a.upper.user = false;
    a.pkru = 0xffffffff;
    EXPECT_EQ(check_access(a), fault(P | U));
    EXPECT_EQ(check_access(with(a, AccessKind::read, 0)), kAllowed);
}

// 4.6.1: user-mode writes need R/W = 1 in every paging-structure entry.
TEST(PkCheckSdm, UserWriteNeedsReadWriteAtEveryLevel) {
    PkAccess a = with(user_read(), AccessKind::write, 3);
    a.upper.writable = false;
    EXPECT_EQ(check_access(a), fault(P | W | U));
}

// 4.6.1: CR0.WP = 0 lets supervisor-mode writes ignore R/W, on supervisor-
// and user-mode addresses.
TEST(PkCheckSdm, SupervisorWriteToAReadOnlyPageFollowsCr0Wp) {
    for (bool user_page : {false, true}) {
        SCOPED_TRACE(user_page);
        PkAccess a = with(user_read(), AccessKind::write, 0);
        a.leaf.user = user_page;
        a.leaf.writable = false;
        EXPECT_EQ(check_access(a), fault(P | W));
        a.cr0_wp = false;
        EXPECT_EQ(check_access(a), kAllowed);
    }
}

// 4.6.1: with CR4.SMAP = 1, explicit supervisor-mode data accesses to
// user-mode addresses need EFLAGS.AC = 1.
TEST(PkCheckSdm, SmapStopsSupervisorDataAccessesToUserPagesUnlessAc) {
    PkAccess a = with(user_read(), AccessKind::read, 0);
    a.cr4_smap = true;
    EXPECT_EQ(check_access(a), fault(P));
    EXPECT_EQ(check_access(with(a, AccessKind::write, 0)), fault(P | W));
    a.eflags_ac = true;
    EXPECT_EQ(check_access(a), kAllowed);
    EXPECT_EQ(check_access(with(a, AccessKind::write, 0)), kAllowed);
    // SMAP leaves supervisor-mode addresses alone.
    a.eflags_ac = false;
    EXPECT_EQ(check_access(supervisor_page(a)), kAllowed);
}

// 4.6.1: implicit accesses are supervisor-mode accesses at any CPL, and with
// SMAP = 1 reach no user-mode address whatever EFLAGS.AC; 4.7: U/S = 0.
TEST(PkCheckSdm, ImplicitAccessesAreSupervisorAccessesThatSmapStopsDespiteAc) {
    PkAccess a = with(user_read(), AccessKind::implicit_supervisor_read, 3);
    a.cr4_smap = true;
    a.eflags_ac = true;
    EXPECT_EQ(check_access(a), fault(P));
    EXPECT_EQ(check_access(with(a, AccessKind::implicit_supervisor_write, 3)), fault(P | W));
    EXPECT_EQ(check_access(supervisor_page(a)), kAllowed);
    a.cr4_smap = false;
    EXPECT_EQ(check_access(a), kAllowed);
    // A key stops an implicit access to a user-mode address like any other
    // supervisor-mode data access.
    a.pkru = ad(1);
    EXPECT_EQ(check_access(a), fault(P | PK));
}

// 4.6.1: with CR4.SMEP = 1 no supervisor-mode fetch from a user-mode
// address; 4.7: I/D is 1 because SMEP = 1, even with NXE = 0.
TEST(PkCheckSdm, SmepStopsSupervisorFetchesFromUserPages) {
    PkAccess a = with(user_read(), AccessKind::instruction_fetch, 0);
    a.efer_nxe = false;
    EXPECT_EQ(check_access(a), kAllowed);
    a.cr4_smep = true;
    EXPECT_EQ(check_access(a), fault(P | ID));
    EXPECT_EQ(check_access(supervisor_page(a)), kAllowed);
}

// 4.6.1: accesses at CPL < 3 are supervisor-mode accesses.
TEST(PkCheckSdm, CplOneAndTwoMakeSupervisorAccesses) {
    for (unsigned cpl : {1u, 2u}) {
        SCOPED_TRACE(cpl);
        EXPECT_EQ(check_access(supervisor_page(with(user_read(), AccessKind::write, cpl))),
                  kAllowed);
        PkAccess a = with(user_read(), AccessKind::write, cpl);
        a.leaf.writable = false;
        EXPECT_EQ(check_access(a), fault(P | W));
    }
}

// 4.6.1: with NXE = 1, XD = 1 in any paging-structure entry forbids fetches.
TEST(PkCheckSdm, ExecuteDisableStopsFetchesWithNxe) {
    PkAccess a = with(user_read(), AccessKind::instruction_fetch, 3);
    a.leaf.execute_disable = true;
    EXPECT_EQ(check_access(a), fault(P | U | ID));
    EXPECT_EQ(check_access(with(a, AccessKind::read, 3)), kAllowed);
    a.leaf.execute_disable = false;
    a.upper.execute_disable = true;
    EXPECT_EQ(check_access(a), fault(P | U | ID));
    EXPECT_EQ(check_access(supervisor_page(with(a, AccessKind::instruction_fetch, 0))),
              fault(P | ID));
}

// 4.7: I/D needs a fetch and NXE = 1 or SMEP = 1.
TEST(PkCheckSdm, InstructionFetchFlagNeedsNxeOrSmep) {
    PkAccess a = supervisor_page(with(user_read(), AccessKind::instruction_fetch, 3));
    a.efer_nxe = false;
    EXPECT_EQ(check_access(a), fault(P | U));
    a.cr4_smep = true;
    EXPECT_EQ(check_access(a), fault(P | U | ID));
}

// 4.7: P = 0 for a not-present page; W/R, U/S and I/D still describe the
// access; no key applies to a page that has no translation.
TEST(PkCheckSdm, NotPresentPageClearsPAndKeepsTheAccessBits) {
    PkAccess a = user_read();
    a.present = false;
    a.pkru = 0xffffffff;
    EXPECT_EQ(check_access(a), fault(U));
    EXPECT_EQ(check_access(with(a, AccessKind::write, 3)), fault(W | U));
    EXPECT_EQ(check_access(with(a, AccessKind::instruction_fetch, 3)), fault(U | ID));
    EXPECT_EQ(check_access(with(a, AccessKind::read, 0)), fault(0));
}

// 4.5 (entry formats): bit 63 is reserved with IA32_EFER.NXE = 0; 4.7: RSVD
// with P, and no translation means no key.
TEST(PkCheckSdm, ExecuteDisableWithoutNxeIsAReservedBitFault) {
    PkAccess a = user_read();
    a.efer_nxe = false;
    a.leaf.execute_disable = true;
    a.pkru = ad(1);
    EXPECT_EQ(check_access(a), fault(P | U | RSVD));
    a.leaf.execute_disable = false;
    a.upper.execute_disable = true;
    EXPECT_EQ(check_access(with(a, AccessKind::write, 0)), fault(P | W | RSVD));
}

TEST(PkCheckSdm, VerdictsReadAsTheErrorCodeBits) {
    EXPECT_EQ(to_string(fault(P | W | U | PK)), "#PF 0x27 (P W/R U/S PK) at 0x7f0000001000");
    EXPECT_EQ(to_string(fault(U | ID)), "#PF 0x14 (U/S I/D) at 0x7f0000001000");
    EXPECT_EQ(to_string(kAllowed), "allowed");
}

// The module answers through its socket exactly what the function does, over
// every kind × CPL 0/3 × U/S × R/W × WP × SMAP × AC × PKE × PKS × the four
// AD/WD settings of key 5 in PKRU and in PKRS.
TEST(PkCheckModule, AnswersThroughItsSocketWhatTheFunctionAnswers) {
    const AccessKind kinds[] = {AccessKind::read, AccessKind::write, AccessKind::instruction_fetch,
                                AccessKind::implicit_supervisor_read,
                                AccessKind::implicit_supervisor_write};
    unsigned cases = 0, faults = 0;
    for (AccessKind kind : kinds) {
        for (unsigned bits = 0; bits < (1u << 12); ++bits) {
            PkAccess a = with(user_read(), kind, bits & 1 ? 3 : 0);
            a.pkey = 5;
            a.leaf.user = bits & 2;
            a.leaf.writable = bits & 4;
            a.cr0_wp = bits & 8;
            a.cr4_smap = bits & 16;
            a.eflags_ac = bits & 32;
            a.cr4_pke = bits & 64;
            a.cr4_pks = bits & 128;
            a.pkru = ((bits >> 8) & 3) << 10;
            a.pkrs = ((bits >> 10) & 3) << 10;
            PkVerdict expected = check_access(a);
            ASSERT_EQ(bench::through_pk_check(a), expected) << to_string(kind) << " " << bits;
            ++cases;
            faults += !expected.allowed;
        }
    }
    EXPECT_EQ(cases, 5u * 4096u);
    // Neither all allowed nor all faulting: the enumeration exercises the rule.
    EXPECT_GT(faults, cases / 4);
    EXPECT_LT(faults, cases * 3 / 4);
}

TEST(PkCheckModule, RefusesAPayloadWithoutItsExtension) {
    EXPECT_EQ(bench::pk_check_status(std::nullopt), tlm::TLM_COMMAND_ERROR_RESPONSE);
    EXPECT_EQ(bench::pk_check_status(user_read()), tlm::TLM_OK_RESPONSE);
}

// No CPU makes an access at CPL 4 or with key 16: no answer, rather than one
// for a case that cannot arise.
TEST(PkCheckModule, RejectsAnAccessNoCpuCanMake) {
    PkAccess a = user_read();
    a.cpl = 4;
    EXPECT_THROW(check_access(a), std::invalid_argument);
    EXPECT_EQ(bench::pk_check_status(a), tlm::TLM_GENERIC_ERROR_RESPONSE);
    a = user_read();
    a.pkey = 16;
    EXPECT_THROW(check_access(a), std::invalid_argument);
    EXPECT_EQ(bench::pk_check_status(a), tlm::TLM_GENERIC_ERROR_RESPONSE);
}

}  // namespace
}  // namespace faultline::models
