// Hand-checked cases, each from the Intel SDM section it names (vol. 1
// chapter 13 unless said otherwise).
#include "faultline/models/xinuse.hpp"

#include <gtest/gtest.h>

#include "bench.hpp"

namespace faultline::models {

void PrintTo(const XinuseVerdict& v, std::ostream* os) { *os << to_string(v); }

namespace {

// What Linux 6.12 enables on QEMU's -cpu max: x87, SSE, AVX, BNDREGS,
// BNDCSR, PKRU.
constexpr uint64_t kXcr0 = 0x21f;

// An XSAVE of every component with the vector registers zeroed (VZEROALL)
// and PKRU written 0: what Linux 6.12's signal delivery does before it saves
// the signal frame.
XinuseQuery xsave_after_wrpkru_0() {
    XinuseQuery q;
    q.instruction = XsaveInstruction::xsave;
    q.xcr0 = kXcr0;
    return q;
}

XinuseQuery with(XinuseQuery q, XsaveInstruction instruction) {
    q.instruction = instruction;
    return q;
}

// 13.6: PKRU state is in its initial configuration when PKRU is 0, SSE and
// AVX when the XMM registers and the YMM upper halves are 0, BNDREGS when
// BND0-3 are 0, BNDCSR when BNDCFGU and BNDSTATUS are; x87 is left in use
// (its initial configuration spans more than one register).
TEST(XinuseSdm, EveryComponentButX87IsInitWhenZero) {
    EXPECT_EQ(components_in_init(XsaveRegisters{}),
              xstate::sse | xstate::avx | xstate::bndregs | xstate::bndcsr | xstate::pkru);
}

TEST(XinuseSdm, MpxStateIsInUseOnceABoundOrItsConfigurationIsSet) {
    XsaveRegisters r;
    r.bnd[7] = 1;  // BND3's upper bound
    EXPECT_EQ(components_in_init(r) & (xstate::bndregs | xstate::bndcsr), xstate::bndcsr);
    r = {};
    r.bndstatus = 2;
    EXPECT_EQ(components_in_init(r) & (xstate::bndregs | xstate::bndcsr), xstate::bndregs);
}

// 13.7: XSTATE_BV[i] = XINUSE[i] for every i in RFBM; PKRU 0 is init, so
// bit 9 is clear. 13.6 lets a processor report it in use all the same.
TEST(XinuseSdm, XsaveAfterWrpkru0LeavesBit9ClearOnlyWhenTracked) {
    XinuseQuery q = xsave_after_wrpkru_0();
    EXPECT_EQ(xinuse_verdict(q), (XinuseVerdict{xstate::x87, xstate::x87}));
    q.tracks_init = false;
    EXPECT_EQ(xinuse_verdict(q), (XinuseVerdict{kXcr0, kXcr0}));
}

// 13.6: any PKRU but 0 is out of the initial configuration.
TEST(XinuseSdm, NonZeroPkruIsInUse) {
    XinuseQuery q = xsave_after_wrpkru_0();
    q.registers.pkru = 0x4;
    EXPECT_EQ(xinuse_verdict(q).value, xstate::x87 | xstate::pkru);
    q.registers.pkru = 0x80000000;
    EXPECT_EQ(xinuse_verdict(q).value, xstate::x87 | xstate::pkru);
}

// 13.6: SSE state is XMM0-15 in 64-bit mode, XMM0-7 outside it; a YMM
// upper half is AVX state, not SSE state.
TEST(XinuseSdm, SseStateIsTheXmmRegistersOfTheMode) {
    XinuseQuery q = xsave_after_wrpkru_0();
    q.registers.xmm[0] = 1;  // XMM0 = 1
    EXPECT_EQ(xinuse_verdict(q).value, xstate::x87 | xstate::sse);
    q.registers.xmm = {};
    q.registers.xmm[31] = uint64_t(1) << 63;  // XMM15's top bit
    EXPECT_EQ(xinuse_verdict(q).value, xstate::x87 | xstate::sse);
    q.registers.in_64bit_mode = false;
    EXPECT_EQ(xinuse_verdict(q).value, xstate::x87);
    q.registers.xmm[15] = 2;  // XMM7's high quadword
    EXPECT_EQ(xinuse_verdict(q).value, xstate::x87 | xstate::sse);
}

TEST(XinuseSdm, AvxStateIsTheYmmUpperHalvesOfTheMode) {
    XinuseQuery q = xsave_after_wrpkru_0();
    q.registers.ymm_high[1] = ~uint64_t(0);  // YMM0_H's high quadword
    EXPECT_EQ(xinuse_verdict(q).value, xstate::x87 | xstate::avx);
    q.registers.ymm_high = {};
    q.registers.ymm_high[30] = 1;  // YMM15_H
    EXPECT_EQ(xinuse_verdict(q).value, xstate::x87 | xstate::avx);
    q.registers.in_64bit_mode = false;
    EXPECT_EQ(xinuse_verdict(q).value, xstate::x87);
}

// 13.7: RFBM = EDX:EAX AND XCR0; where RFBM[i] = 0 XSTATE_BV[i] keeps what
// the header held, bits outside XCR0 included.
TEST(XinuseSdm, XsaveLeavesTheBitsOutsideRfbmAsTheyWere) {
    XinuseQuery q = xsave_after_wrpkru_0();
    q.registers.pkru = 0x4;
    q.instruction_mask = xstate::x87 | xstate::sse;
    q.old_xstate_bv = xstate::avx | xstate::sse | (uint64_t(1) << 3);
    // SSE in RFBM and init: cleared; AVX and bit 3 outside RFBM: kept;
    // PKRU in use but outside RFBM: not written.
    EXPECT_EQ(xinuse_verdict(q).value, xstate::x87 | xstate::avx | (uint64_t(1) << 3));
    q.instruction_mask = ~uint64_t(0);
    q.xcr0 = kXcr0 & ~xstate::pkru;
    q.old_xstate_bv = xstate::pkru;
    EXPECT_EQ(xinuse_verdict(q), (XinuseVerdict{xstate::x87, xstate::x87 | xstate::pkru}));
}

// 13.9: XSAVEOPT writes XSTATE_BV as XSAVE does (it may skip writing the
// components' data, never the header bits).
TEST(XinuseSdm, XsaveoptWritesTheHeaderAsXsaveDoes) {
    for (uint32_t pkru : {0u, 0x4u}) {
        XinuseQuery q = xsave_after_wrpkru_0();
        q.registers.pkru = pkru;
        q.registers.xmm[2] = 7;
        q.old_xstate_bv = xstate::avx;
        EXPECT_EQ(xinuse_verdict(with(q, XsaveInstruction::xsaveopt)), xinuse_verdict(q));
    }
}

// Vol. 2B, XGETBV: ECX = 1 returns XCR0 AND XINUSE, whatever a header held.
TEST(XinuseSdm, Xgetbv1IsXcr0AndXinuse) {
    XinuseQuery q = with(xsave_after_wrpkru_0(), XsaveInstruction::xgetbv1);
    q.old_xstate_bv = ~uint64_t(0);
    EXPECT_EQ(xinuse_verdict(q), (XinuseVerdict{xstate::x87, xstate::x87}));
    q.registers.pkru = 0x55555554;  // Linux's default PKRU
    EXPECT_EQ(xinuse_verdict(q).value, xstate::x87 | xstate::pkru);
    q.tracks_init = false;
    EXPECT_EQ(xinuse_verdict(q).value, kXcr0);
}

TEST(XinuseSdm, VerdictsReadAsTheTwoValues) {
    EXPECT_EQ(to_string(XinuseVerdict{0x201, 0x205}), "xinuse 0x201 value 0x205");
}

// The module answers through its socket what the function does, for each
// instruction, with and without tracking, over PKRU 0 and not and each
// vector register set.
TEST(XinuseModule, AnswersThroughItsSocketWhatTheFunctionAnswers) {
    unsigned cases = 0;
    for (XsaveInstruction instruction :
         {XsaveInstruction::xsave, XsaveInstruction::xsaveopt, XsaveInstruction::xgetbv1}) {
        for (bool tracks_init : {false, true}) {
            for (uint32_t pkru : {0u, 0x4u}) {
                for (int vector = -1; vector < 64; ++vector) {
                    XinuseQuery q = with(xsave_after_wrpkru_0(), instruction);
                    q.tracks_init = tracks_init;
                    q.registers.pkru = pkru;
                    if (vector >= 32) {
                        q.registers.ymm_high[vector - 32] = 1;
                    } else if (vector >= 0) {
                        q.registers.xmm[vector] = 1;
                    }
                    ASSERT_EQ(bench::through_xinuse_tracker(q), xinuse_verdict(q));
                    ++cases;
                }
            }
        }
    }
    EXPECT_EQ(cases, 3u * 2u * 2u * 65u);
}

TEST(XinuseModule, RefusesAPayloadWithoutItsExtension) {
    EXPECT_EQ(bench::xinuse_tracker_status(std::nullopt), tlm::TLM_COMMAND_ERROR_RESPONSE);
    EXPECT_EQ(bench::xinuse_tracker_status(xsave_after_wrpkru_0()), tlm::TLM_OK_RESPONSE);
}

}  // namespace
}  // namespace faultline::models
