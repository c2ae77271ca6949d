#include "faultline/inject.hpp"

#include <gtest/gtest.h>

#include "faultline/errors.hpp"

using namespace faultline;

TEST(InjectText, EncodesScheduleInTheDeviceFormat) {
    std::vector<ScheduleEntry> schedule{
        {{0x401950, 0x2ae000, 3}, Event::signal(10)},
        {{0x401960, 0x2ae000, 1}, Event::migrate(1)},
    };
    EXPECT_EQ(encode_schedule(schedule), "401950 2ae000 3 2 10;401960 2ae000 1 3 1;");
}

TEST(InjectText, RefusesHitZero) {
    EXPECT_THROW(encode_schedule({{{0x401950, 0, 0}, Event::preempt()}}), ConfigError);
}

TEST(InjectText, DecodesFirings) {
    auto firings = decode_firings("0 97035722 1 401950;1 97100000 0 401960;");
    ASSERT_EQ(firings.size(), 2u);
    EXPECT_EQ(firings[0].icount, 97035722u);
    EXPECT_EQ(firings[0].vcpu, 1);
    EXPECT_EQ(firings[0].rip, 0x401950u);
    EXPECT_EQ(firings[1].entry, 1u);
    EXPECT_TRUE(decode_firings("").empty());
    EXPECT_THROW(decode_firings("0 x;"), QmpError);
}
