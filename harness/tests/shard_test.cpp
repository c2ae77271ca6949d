#include "faultline/campaign/shard.hpp"

#include <gtest/gtest.h>

#include "faultline/machine/errors.hpp"

namespace faultline {
namespace {

TEST(Shard, ThreeShardsOfTenCoverEachItemOnce) {
    EXPECT_EQ(parse_shard("1/3").range(10), (std::pair<size_t, size_t>{0, 3}));
    EXPECT_EQ(parse_shard("2/3").range(10), (std::pair<size_t, size_t>{3, 6}));
    EXPECT_EQ(parse_shard("3/3").range(10), (std::pair<size_t, size_t>{6, 10}));
}

TEST(Shard, OneShardIsEverything) {
    EXPECT_EQ(Shard{}.range(7), (std::pair<size_t, size_t>{0, 7}));
    EXPECT_EQ(parse_shard("1/1").text(), "1/1");
}

TEST(Shard, MoreShardsThanItemsLeaveSomeEmpty) {
    EXPECT_EQ(parse_shard("1/4").range(2), (std::pair<size_t, size_t>{0, 0}));
    EXPECT_EQ(parse_shard("2/4").range(2), (std::pair<size_t, size_t>{0, 1}));
    EXPECT_EQ(parse_shard("4/4").range(2), (std::pair<size_t, size_t>{1, 2}));
}

TEST(Shard, BadTextIsNamed) {
    for (const char* text : {"4/3", "0/3", "1/0", "0/0", "3", "a/3", "1/b", "/3", "1/", "-1/3",
                             "1/3/4", " 1/3", "1234567890/3"}) {
        try {
            parse_shard(text);
            ADD_FAILURE() << text;
        } catch (const ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find(std::string("'") + text + "'"), std::string::npos)
                << e.what();
        }
    }
}

}  // namespace
}  // namespace faultline
