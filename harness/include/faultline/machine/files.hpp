// A host file read whole: a program and its libraries (ELF reading, the
// closure), the guest's initramfs, the console log, files to upload; and
// the SHA-256 that names a file's content (reproducers, the boot cache).
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace faultline {

// Its bytes; nullopt when it cannot be opened (the caller says what that means).
std::optional<std::string> file_bytes(const std::string& path);

// SHA-256 fed piece by piece.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const void* data, size_t size);
    void update(const std::string& bytes) { update(bytes.data(), bytes.size()); }
    // Hex digest; the hash takes no more input after it.
    std::string hex();

private:
    struct Context;
    std::unique_ptr<Context> context_;
};

std::string sha256_of_bytes(const std::string& bytes);
// FileMissing when the file cannot be read.
std::string sha256_of_file(const std::string& path);

}  // namespace faultline
