#include "faultline/models/xinuse.hpp"

#include <algorithm>
#include <cstdio>

namespace faultline::models {

namespace {

// 13.6: in 64-bit mode all sixteen registers count, outside it XMM0-7
// (YMM0_H-7_H) only.
bool vector_registers_zero(const std::array<uint64_t, 32>& quadwords, bool in_64bit_mode) {
    const size_t registers = in_64bit_mode ? 16 : 8;
    return std::all_of(quadwords.begin(), quadwords.begin() + 2 * registers,
                       [](uint64_t q) { return q == 0; });
}

}  // namespace

// 13.6, the initial configuration of each state component:
//   SSE: XMM0-15 (XMM0-7 outside 64-bit mode) are 0; "XINUSE[1] pertains
//        only to the state of the XMM registers and not to MXCSR" (13.9).
//   AVX: YMM0_H-YMM15_H (0-7 outside 64-bit mode) are 0.
//   BNDREGS: BND0-BND3 are 0. BNDCSR: BNDCFGU and BNDSTATUS are 0.
//   PKRU: PKRU is 0 (13.5.7: its value after RESET and XRSTOR's init).
// x87's configuration (FCW 037FH, FSW, FTW, FOP, FIP, FDP and the registers)
// is left out: a component reported in use in its initial configuration is
// what 13.6 allows ("XINUSE[i] may be 1").
uint64_t components_in_init(const XsaveRegisters& r) {
    uint64_t init = 0;
    if (vector_registers_zero(r.xmm, r.in_64bit_mode)) {
        init |= xstate::sse;
    }
    if (vector_registers_zero(r.ymm_high, r.in_64bit_mode)) {
        init |= xstate::avx;
    }
    if (std::all_of(r.bnd.begin(), r.bnd.end(), [](uint64_t b) { return b == 0; })) {
        init |= xstate::bndregs;
    }
    if (r.bndcfgu == 0 && r.bndstatus == 0) {
        init |= xstate::bndcsr;
    }
    if (r.pkru == 0) {
        init |= xstate::pkru;
    }
    return init;
}

// XINUSE[i] = 0 only for component i in its initial configuration (13.6).
// 13.7 (XSAVE) and 13.9 (XSAVEOPT) write the header alike: with
// RFBM = EDX:EAX AND XCR0, XSTATE_BV[i] is left as it was where RFBM[i] = 0
// and becomes XINUSE[i] where RFBM[i] = 1. XGETBV with ECX = 1 returns
// XCR0 AND XINUSE (vol. 2B, XGETBV).
XinuseVerdict xinuse_verdict(const XinuseQuery& q) {
    const uint64_t init = q.tracks_init ? components_in_init(q.registers) : 0;
    const uint64_t xinuse = q.xcr0 & ~init;
    if (q.instruction == XsaveInstruction::xgetbv1) {
        return {xinuse, xinuse};
    }
    const uint64_t rfbm = q.instruction_mask & q.xcr0;
    return {xinuse, (q.old_xstate_bv & ~rfbm) | (xinuse & rfbm)};
}

std::string to_string(const XinuseVerdict& v) {
    char text[64];
    std::snprintf(text, sizeof text, "xinuse %#llx value %#llx",
                  static_cast<unsigned long long>(v.xinuse),
                  static_cast<unsigned long long>(v.value));
    return text;
}

}  // namespace faultline::models
