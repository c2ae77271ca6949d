// The mailbox message framing shared with the guest agent (linux/faultline.h):
// a list of byte strings, u32 count then per field u32 length and bytes,
// little endian.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace faultline {

using Message = std::vector<std::string>;

std::string encode_message(const Message& fields);
// Throws AgentError when the bytes are not exactly one well-formed message.
Message decode_message(std::string_view bytes);

}  // namespace faultline
