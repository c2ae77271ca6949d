#include "faultline/program/elf.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

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

TEST(DynamicElf, ReadsWhatTheLoaderReads) {
    DynamicInfo info = dynamic_info(kPrograms + "rseq-counter");
    EXPECT_EQ(info.interpreter, "/lib64/ld-linux-x86-64.so.2");
    // -pthread links glibc's loader in too (for __tls_get_addr).
    EXPECT_EQ(info.needed, (std::vector<std::string>{"libc.so.6", "ld-linux-x86-64.so.2"}));
    EXPECT_FALSE(elf_layout(kPrograms + "rseq-counter").position_independent);
    EXPECT_FALSE(info.has_runpath);
    EXPECT_EQ(dynamic_info(kPrograms + "init").needed.size(), 0u);  // static
    EXPECT_EQ(dynamic_info("/lib/x86_64-linux-gnu/libc.so.6").soname, "libc.so.6");
}

TEST(DynamicElf, NamesAnotherMachineAndClass) {
    EXPECT_EQ(elf_mismatch(kPrograms + "rseq-counter"), "");
    EXPECT_EQ(elf_mismatch(kPrograms + "cpio.list"), "not an ELF file");
}

// Every prefix and many single-byte changes of a real program: the reader
// answers or throws ConfigError naming the file, never reads past the end.
TEST(DynamicElf, ATruncatedOrCorruptFileIsAnErrorNamingIt) {
    std::ifstream in(kPrograms + "rseq-counter", std::ios::binary);
    std::string bytes(std::istreambuf_iterator<char>(in), {});
    std::string path = ::testing::TempDir() + "corrupt-elf";
    auto check = [&](const std::string& content) {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
        try {
            dynamic_info(path);
        } catch (const ConfigError& e) {
            EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
        }
    };
    for (size_t length = 0; length < bytes.size(); length += length < 4096 ? 7 : 4093) {
        check(bytes.substr(0, length));
    }
    for (size_t at = 0; at < 4096 && at < bytes.size(); ++at) {
        std::string changed = bytes;
        changed[at] = char(~changed[at]);
        check(changed);
    }
    std::filesystem::remove(path);
}
