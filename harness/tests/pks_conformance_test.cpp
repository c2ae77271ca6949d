#include "faultline/conformance/pks_conformance.hpp"

#include <gtest/gtest.h>

using namespace faultline;

// pks-selftest's detail names every failing case: with all 28 failing it is
// far longer than a terminal line, and the table must print it whole.
TEST(PksConformanceTable, PrintsALongDetailWhole) {
    std::string cases;
    for (int k = 0; k < 28; ++k) {
        cases += (k ? ", " : "") + std::string("a_case_whose_name_is_long_") + std::to_string(k);
    }
    PksConformance result;
    result.checks = {{"pks-selftest, every case", false, "exited 1; failing: " + cases},
                     {"context switch: sweep __switch_to [nmi]", true,
                      "0 of 63 reached cells failed"}};
    result.seconds = 56.25;
    std::string table = pks_conformance_table(result);
    EXPECT_EQ(table, "pks-selftest, every case" + std::string(78 - 24, ' ') +
                         " FAIL exited 1; failing: " + cases + "\n" +
                         "context switch: sweep __switch_to [nmi]" + std::string(78 - 39, ' ') +
                         " ok   0 of 63 reached cells failed\n"
                         "pks conformance: 1 of 2 checks passed (56.2 s)\n");
}
