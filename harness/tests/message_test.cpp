#include "faultline/machine/message.hpp"

#include <gtest/gtest.h>

#include "faultline/machine/errors.hpp"

using faultline::AgentError;
using faultline::decode_message;
using faultline::encode_message;
using faultline::Message;

TEST(Message, EncodesCountThenLengthPrefixedFields) {
    std::string bytes = encode_message({"run", ""});
    EXPECT_EQ(bytes, std::string("\x02\0\0\0\x03\0\0\0run\0\0\0\0", 15));
}

TEST(Message, RoundTripsBinaryFields) {
    Message m{"put", "/tmp/x", std::string("\0\xff\n\0", 4), ""};
    EXPECT_EQ(decode_message(encode_message(m)), m);
}

TEST(Message, RejectsTruncatedOverrunningAndTrailingBytes) {
    std::string good = encode_message({"ok", "data"});
    EXPECT_THROW(decode_message(good.substr(0, 3)), AgentError);
    EXPECT_THROW(decode_message(good.substr(0, good.size() - 1)), AgentError);
    EXPECT_THROW(decode_message(good + "x"), AgentError);
    EXPECT_THROW(decode_message(std::string("\xff\xff\xff\x7f", 4)), AgentError);
}
