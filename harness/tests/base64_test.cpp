#include "faultline/machine/base64.hpp"

#include <gtest/gtest.h>

#include "faultline/machine/errors.hpp"

using faultline::base64_decode;
using faultline::base64_encode;

TEST(Base64, MatchesRfc4648Vectors) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_decode("Zm9vYg=="), "foob");
    EXPECT_EQ(base64_decode("Zm9vYmE="), "fooba");
}

TEST(Base64, RoundTripsEveryByteValue) {
    std::string all;
    for (int i = 0; i < 256; ++i) {
        all += char(i);
    }
    for (size_t len = 0; len <= all.size(); len += 37) {
        std::string part = all.substr(0, len);
        EXPECT_EQ(base64_decode(base64_encode(part)), part) << "length " << len;
    }
}

TEST(Base64, RejectsMalformedText) {
    EXPECT_THROW(base64_decode("Zm9"), faultline::Error);
    EXPECT_THROW(base64_decode("Zm9*"), faultline::Error);
    EXPECT_THROW(base64_decode("Zg==Zm9v"), faultline::Error);
}
