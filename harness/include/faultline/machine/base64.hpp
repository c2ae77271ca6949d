// Base64 (RFC 4648, padded): how QMP carries the mailbox's outbox, the
// guest's binary messages (the host's go through a file, inbox-file).
#pragma once

#include <string>
#include <string_view>

namespace faultline {

// Throws faultline::Error on a character outside the alphabet or bad padding.
std::string base64_decode(std::string_view text);

}  // namespace faultline
