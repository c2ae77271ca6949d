#include "faultline/program/address_space.hpp"

#include <gtest/gtest.h>

#include "faultline/machine/errors.hpp"

using namespace faultline;

namespace {
const std::string kPrograms = std::string(FAULTLINE_BUILD_DIR) + "/linux/initramfs/";

// A process of param_test: its own PIE image and librseq.so, as
// /proc/PID/maps lists them.
const std::vector<Mapping> kParamTest = {
    {0x555555554000, 0x555555556000, 0x0, "/selftests/rseq/param_test"},
    {0x555555556000, 0x55555555a000, 0x2000, "/selftests/rseq/param_test"},
    {0x7ffff7f80000, 0x7ffff7f81000, 0x0, "/selftests/rseq/librseq.so"},
    {0x7ffff7f81000, 0x7ffff7f83000, 0x1000, "/selftests/rseq/librseq.so"},
};
}  // namespace

TEST(LoadBias, PositionIndependentFilesAreWhereTheirFirstPageIsMapped) {
    EXPECT_EQ(load_bias(kPrograms + "selftests/rseq/librseq.so", kParamTest,
                        "/selftests/rseq/librseq.so"),
              0x7ffff7f80000u);
    // A base name finds it too.
    EXPECT_EQ(load_bias(kPrograms + "selftests/rseq/param_test", kParamTest, "param_test"),
              0x555555554000u);
}

TEST(LoadBias, APositionDependentProgramStaysAtItsLinkTimeAddresses) {
    std::vector<Mapping> counter = {{0x400000, 0x401000, 0, "/bin/rseq-counter"}};
    EXPECT_EQ(load_bias(kPrograms + "rseq-counter", counter, "/bin/rseq-counter"), 0u);
}

TEST(LoadBias, AFileTheProcessDidNotMapIsNamed) {
    try {
        load_bias(kPrograms + "selftests/rseq/librseq.so", kParamTest, "/lib/librseq.so");
        FAIL() << "an unmapped library got a bias";
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(), "/lib/librseq.so is not loaded by the program (it has no mapping of it)");
    }
    // Not a prefix match: "rseq.so" is not librseq.so.
    EXPECT_THROW(load_bias(kPrograms + "selftests/rseq/librseq.so", kParamTest, "rseq.so"),
                 ConfigError);
}

TEST(Maps, OnlyFileBackedLinesAreKept) {
    auto mappings = parse_maps(
        "00400000-00401000 r--p 00000000 00:02 7          /bin/with space\n"
        "7ffd1000-7ffd2000 rw-p 00000000 00:00 0          [stack]\n"
        "7ffd3000-7ffd4000 rw-p 00000000 00:00 0 \n");
    ASSERT_EQ(mappings.size(), 1u);
    EXPECT_EQ(mappings[0].path, "/bin/with space");
    EXPECT_THROW(parse_maps("zz-yy r--p 0 0 0 /x\n"), AgentError);
}
