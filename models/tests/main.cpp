#include <gtest/gtest.h>

#include <systemc>

// libsystemc's main() sets up the kernel and calls this.
int sc_main(int argc, char* argv[]) {
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
