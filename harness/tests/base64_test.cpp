#include "faultline/machine/base64.hpp"

#include <gtest/gtest.h>

#include "faultline/machine/errors.hpp"

using faultline::base64_decode;

TEST(Base64, MatchesRfc4648Vectors) {
    EXPECT_EQ(base64_decode(""), "");
    EXPECT_EQ(base64_decode("Zg=="), "f");
    EXPECT_EQ(base64_decode("Zm8="), "fo");
    EXPECT_EQ(base64_decode("Zm9v"), "foo");
    EXPECT_EQ(base64_decode("Zm9vYmFy"), "foobar");
    EXPECT_EQ(base64_decode("Zm9vYg=="), "foob");
    EXPECT_EQ(base64_decode("Zm9vYmE="), "fooba");
}

// Every byte value, as QEMU's g_base64_encode() writes it (Python's
// base64.b64encode(bytes(range(256)))).
TEST(Base64, DecodesEveryByteValue) {
    std::string all;
    for (int i = 0; i < 256; ++i) {
        all += char(i);
    }
    EXPECT_EQ(base64_decode(
                  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4"
                  "OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx"
                  "cnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmq"
                  "q6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj"
                  "5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w=="),
              all);
}

TEST(Base64, RejectsMalformedText) {
    EXPECT_THROW(base64_decode("Zm9"), faultline::Error);
    EXPECT_THROW(base64_decode("Zm9*"), faultline::Error);
    EXPECT_THROW(base64_decode("Zg==Zm9v"), faultline::Error);
}
