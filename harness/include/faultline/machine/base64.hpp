// Base64 (RFC 4648, padded): how QMP carries the mailbox's binary messages.
#pragma once

#include <string>
#include <string_view>

namespace faultline {

std::string base64_encode(std::string_view bytes);
// Throws faultline::Error on a character outside the alphabet or bad padding.
std::string base64_decode(std::string_view text);

}  // namespace faultline
