// A host file read whole: a program and its libraries (ELF reading, the
// closure), the guest's initramfs, the console log, files to upload.
#pragma once

#include <optional>
#include <string>

namespace faultline {

// Its bytes; nullopt when it cannot be opened (the caller says what that means).
std::optional<std::string> file_bytes(const std::string& path);

}  // namespace faultline
