#include "faultline/machine/files.hpp"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <tuple>

#include "faultline/machine/errors.hpp"

namespace faultline {

std::optional<std::string> file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Sha256::Context {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md{EVP_MD_CTX_new(), EVP_MD_CTX_free};
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
    EVP_DigestInit_ex(context_->md.get(), EVP_sha256(), nullptr);
}

Sha256::~Sha256() = default;

void Sha256::update(const void* data, size_t size) {
    EVP_DigestUpdate(context_->md.get(), data, size);
}

std::string Sha256::hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(context_->md.get(), digest, &length);
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) {
        char byte[3];
        std::snprintf(byte, sizeof byte, "%02x", digest[i]);
        hex += byte;
    }
    return hex;
}

std::string sha256_of_bytes(const std::string& bytes) {
    Sha256 hash;
    hash.update(bytes);
    return hash.hex();
}

std::string sha256_of_file(const std::string& path) {
    // A command hashes QEMU, the kernel and the initramfs for the boot
    // cache and again for its report: the second time, a file whose inode,
    // size and change time are the same is not read again.
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
        throw FileMissing("file to hash", path);
    }
    using Version = std::tuple<dev_t, ino_t, off_t, time_t, long>;
    const Version version{st.st_dev, st.st_ino, st.st_size, st.st_ctim.tv_sec, st.st_ctim.tv_nsec};
    static std::mutex mutex;
    static std::map<std::string, std::pair<Version, std::string>> hashed;
    {
        std::lock_guard lock(mutex);
        auto known = hashed.find(path);
        if (known != hashed.end() && known->second.first == version) {
            return known->second.second;
        }
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw FileMissing("file to hash", path);
    }
    Sha256 hash;
    std::array<char, 1 << 16> buffer;
    while (in.read(buffer.data(), std::streamsize(buffer.size())) || in.gcount() > 0) {
        hash.update(buffer.data(), size_t(in.gcount()));
    }
    std::string hex = hash.hex();
    std::lock_guard lock(mutex);
    hashed[path] = {version, hex};
    return hex;
}

}  // namespace faultline
