// Which XSAVE-managed state components a processor reports in use (XINUSE),
// and the XSTATE_BV that XSAVE and XSAVEOPT write and the value XGETBV with
// ECX = 1 returns from it: Intel SDM vol. 1, 13.6 (processor tracking of
// XSAVE-managed state, the initial configuration of each component), 13.7
// (XSAVE), 13.9 (XSAVEOPT), and vol. 2B XGETBV. Plain C++, no SystemC:
// XinuseTracker (xinuse_module.hpp) puts it behind a TLM-2.0 target socket.
//
// Scope: the components an x86-64 guest without AVX-512 or AMX enables (x87,
// SSE, AVX, MPX's BNDREGS and BNDCSR, PKRU). Compacted forms (XSAVEC,
// XSAVES) are not modelled: QEMU implements neither.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace faultline::models {

namespace xstate {
constexpr uint64_t x87 = 1u << 0;
constexpr uint64_t sse = 1u << 1;
constexpr uint64_t avx = 1u << 2;
constexpr uint64_t bndregs = 1u << 3;
constexpr uint64_t bndcsr = 1u << 4;
constexpr uint64_t pkru = 1u << 9;
}  // namespace xstate

// The registers the initial configurations are defined over.
struct XsaveRegisters {
    bool in_64bit_mode = true;  // XMM8-15 and YMM8_H-15_H count only here
    // XMM0-15: [2 * i] the low quadword of XMMi, [2 * i + 1] the high one.
    std::array<uint64_t, 32> xmm{};
    // YMM0_H-YMM15_H, the same way.
    std::array<uint64_t, 32> ymm_high{};
    // BND0-3: [2 * i] the lower bound, [2 * i + 1] the upper one.
    std::array<uint64_t, 8> bnd{};
    uint64_t bndcfgu = 0;
    uint64_t bndstatus = 0;
    uint32_t pkru = 0;
};

enum class XsaveInstruction { xsave, xsaveopt, xgetbv1 };

struct XinuseQuery {
    XsaveInstruction instruction = XsaveInstruction::xsave;
    // The processor tracks the init optimization for the components this
    // model knows (components_in_init); a
    // processor that does not reports every component in use, which 13.6
    // allows as well.
    bool tracks_init = true;
    uint64_t xcr0 = xstate::x87 | xstate::sse | xstate::avx | xstate::bndregs | xstate::bndcsr |
                    xstate::pkru;
    uint64_t instruction_mask = ~uint64_t(0);  // EDX:EAX of XSAVE/XSAVEOPT
    uint64_t old_xstate_bv = 0;                // the header's XSTATE_BV before
    XsaveRegisters registers;
};

struct XinuseVerdict {
    uint64_t xinuse = 0;  // the enabled components (XCR0) in use
    // XSAVE, XSAVEOPT: the XSTATE_BV written; XGETBV 1: EDX:EAX.
    uint64_t value = 0;

    bool operator==(const XinuseVerdict& o) const { return xinuse == o.xinuse && value == o.value; }
    bool operator!=(const XinuseVerdict& o) const { return !(*this == o); }
};

// The components of registers in their initial configuration (13.6), of
// those this model knows: SSE, AVX, BNDREGS, BNDCSR, PKRU.
uint64_t components_in_init(const XsaveRegisters& registers);

XinuseVerdict xinuse_verdict(const XinuseQuery& query);

// "xinuse 0x201 value 0x201".
std::string to_string(const XinuseVerdict& verdict);

}  // namespace faultline::models
