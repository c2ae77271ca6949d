#include "faultline/program/elf.hpp"

#include <gtest/gtest.h>

#include "faultline/machine/errors.hpp"

using namespace faultline;

namespace {
const std::string kPrograms = std::string(FAULTLINE_BUILD_DIR) + "/linux/initramfs/";
}

TEST(RseqElf, FindsTheFourSequencesOfTheCounterProgram) {
    auto sections = rseq_critical_sections(kPrograms + "rseq-counter");
    // add, cmpxchg, list push, list pop
    ASSERT_EQ(sections.size(), 4u);
    for (const CriticalSection& cs : sections) {
        EXPECT_LT(cs.start, cs.post_commit);
        // A handful of instructions, not a function.
        EXPECT_LT(cs.post_commit - cs.start, 48u);
        EXPECT_TRUE(cs.abort < cs.start || cs.abort >= cs.post_commit);
    }
}

TEST(RseqElf, BinaryWithoutSequencesHasNone) {
    EXPECT_TRUE(rseq_critical_sections(kPrograms + "hang").empty());
}

TEST(RseqElf, RejectsWhatIsNotAnX86ElfAndNamesMissingFiles) {
    EXPECT_THROW(rseq_critical_sections(kPrograms + "cpio.list"), ConfigError);
    EXPECT_THROW(rseq_critical_sections("/nonexistent/binary"), FileMissing);
}

TEST(RseqElf, SymbolAddressPointsAtTheSymbolsCode) {
    const std::string probe = kPrograms + "fault-probe";
    uint64_t read_at = symbol_address(probe, "fault_probe_read");
    // movzbl (%reg), %reg: 0f b6, after a REX prefix for r8-r15
    std::string code = read_vaddr_bytes(probe, read_at, 3);
    EXPECT_LE(code.find(std::string("\x0f\xb6", 2)), 1u);
    EXPECT_EQ(symbol_address(probe, "probe_page") % 4096, 0u);
    EXPECT_THROW(symbol_address(probe, "no_such_symbol"), ConfigError);
}
