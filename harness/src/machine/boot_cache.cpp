#include "faultline/machine/boot_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "faultline/machine/errors.hpp"
#include "faultline/machine/files.hpp"
#include "faultline/machine/qemu_command_line.hpp"

namespace faultline {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kMagic = "faultline-boot-state 1";
// QEMU writes its stream from here; the header goes before it once the
// stream is complete, so the header's checksum can cover the stream.
constexpr uint64_t kStreamOffset = 1 << 20;
// Each configuration leaves a file (about 30 MB): every rebuilt kernel,
// kernel under test, --cpus or --kernel-arg. The ones used least recently
// go beyond this many.
constexpr size_t kKeptStates = 16;
// A temporary file this old belongs to a process that died saving.
constexpr auto kAbandonedAfter = std::chrono::hours(1);

std::string system_error(const std::string& what) { return what + ": " + std::strerror(errno); }

// A descriptor closed however the scope is left.
struct OpenFile {
    int fd;
    ~OpenFile() {
        if (fd >= 0) {
            close(fd);
        }
    }
};

// The key: everything the booted state depends on, files by content (a
// fresh clone elsewhere finds the same key), nothing by path.
std::string key_of(const MachineConfig& config) {
    MachineConfig by_content = config;
    by_content.qemu = sha256_of_file(config.qemu);
    by_content.kernel = sha256_of_file(config.kernel);
    by_content.initrd = sha256_of_file(config.initrd);
    by_content.firmware_dir = sha256_of_file(config.firmware_dir + "/bios-microvm.bin") + "+" +
                              sha256_of_file(config.firmware_dir + "/pvh.bin");
    by_content.run_dir = "run";
    Sha256 key;
    key.update(std::string(kMagic) + '\n');
    for (const auto& arg : qemu_command_line(by_content)) {
        key.update(arg.data(), arg.size() + 1);  // with its NUL: "a","bc" is not "ab","c"
    }
    return key.hex();
}

// SHA-256 of the header's JSON and the stream after it.
std::string checksum(int fd, const std::string& header_json) {
    Sha256 hash;
    hash.update(header_json);
    std::vector<char> buffer(1 << 20);
    for (uint64_t at = kStreamOffset;;) {
        ssize_t n = pread(fd, buffer.data(), buffer.size(), off_t(at));
        if (n < 0) {
            throw Error(system_error("boot cache: reading"));
        }
        if (n == 0) {
            return hash.hex();
        }
        hash.update(buffer.data(), size_t(n));
        at += uint64_t(n);
    }
}

json to_json(const ReadyState& r, const std::string& key) {
    return {{"key", key},
            {"agent_secret", r.agent_secret},
            {"agent_next_sequence", r.agent_next_sequence},
            {"handshakes", r.handshakes},
            {"cpus", r.cpus},
            {"kernel_release", r.kernel_release},
            {"console", r.console}};
}

ReadyState ready_of(const json& j) {
    ReadyState r;
    r.agent_secret = j.at("agent_secret").get<std::string>();
    r.agent_next_sequence = j.at("agent_next_sequence").get<uint64_t>();
    r.handshakes = j.at("handshakes").get<uint64_t>();
    r.cpus = j.at("cpus").get<int>();
    r.kernel_release = j.at("kernel_release").get<std::string>();
    r.console = j.at("console").get<std::string>();
    return r;
}

void prune(const fs::path& dir) {
    std::vector<std::pair<fs::file_time_type, fs::path>> states;
    std::error_code error;
    auto now = fs::file_time_type::clock::now();
    for (const auto& entry : fs::directory_iterator(dir, error)) {
        auto modified = entry.last_write_time(error);
        if (error) {
            continue;
        }
        if (entry.path().extension() == ".state") {
            states.emplace_back(modified, entry.path());
        } else if (entry.path().extension() == ".tmp" && now - modified > kAbandonedAfter) {
            fs::remove(entry.path(), error);
        }
    }
    std::sort(states.begin(), states.end(), std::greater<>());
    for (size_t k = kKeptStates; k < states.size(); ++k) {
        fs::remove(states[k].second, error);
    }
}

}  // namespace

BootCache::BootCache(const MachineConfig& config) {
    if (config.boot_cache_dir.empty()) {
        return;
    }
    key_ = key_of(config);
    path_ = config.boot_cache_dir + "/" + key_ + ".state";
}

BootCache::~BootCache() {
    forget_saved();
    if (load_fd_ >= 0) {
        close(load_fd_);
    }
}

void BootCache::forget_saved() {
    if (!saving_.empty()) {
        unlink(saving_.c_str());
        saving_.clear();
    }
}

std::optional<BootCache::Entry> BootCache::load(std::string& problem) {
    problem.clear();
    if (!enabled()) {
        return std::nullopt;
    }
    int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) {
            problem = system_error("cannot read " + path_);
        }
        return std::nullopt;
    }
    // Held open, so a file another process renames over this one meanwhile
    // does not change what QEMU loads.
    if (load_fd_ >= 0) {
        close(load_fd_);
    }
    load_fd_ = fd;
    std::string header(kStreamOffset, '\0');
    ssize_t got = pread(fd, header.data(), header.size(), 0);
    struct stat st;
    if (got != ssize_t(header.size()) || fstat(fd, &st) != 0 || uint64_t(st.st_size) <= kStreamOffset) {
        problem = path_ + " is truncated";
        return std::nullopt;
    }
    size_t magic_end = header.find('\n');
    size_t sum_end = magic_end == std::string::npos ? magic_end : header.find('\n', magic_end + 1);
    size_t json_end = sum_end == std::string::npos ? sum_end : header.find('\n', sum_end + 1);
    if (json_end == std::string::npos || header.compare(0, magic_end, kMagic) != 0) {
        problem = path_ + " is not a faultline boot state";
        return std::nullopt;
    }
    std::string sum = header.substr(magic_end + 1, sum_end - magic_end - 1);
    std::string header_json = header.substr(sum_end + 1, json_end - sum_end - 1);
    if (checksum(fd, header_json) != sum) {
        problem = path_ + " is damaged (its SHA-256 differs)";
        return std::nullopt;
    }
    Entry entry;
    try {
        json j = json::parse(header_json);
        if (j.at("key").get<std::string>() != key_) {
            problem = path_ + " is of another machine configuration";
            return std::nullopt;
        }
        entry.ready = ready_of(j);
    } catch (const json::exception& e) {
        problem = path_ + ": unreadable header: " + e.what();
        return std::nullopt;
    }
    futimens(fd, nullptr);  // used now: pruned last
    entry.qemu_uri = "file:/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd) +
                     ",offset=" + std::to_string(kStreamOffset);
    return entry;
}

std::string BootCache::save_uri() {
    forget_saved();
    std::error_code error;
    fs::create_directories(fs::path(path_).parent_path(), error);
    if (error) {
        throw Error("cannot create " + fs::path(path_).parent_path().string() + ": " +
                    error.message());
    }
    std::string saving = path_ + "." + std::to_string(getpid()) + ".tmp";
    int fd = open(saving.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        throw Error(system_error("cannot write " + saving));
    }
    close(fd);
    saving_ = saving;
    return "file:" + saving_ + ",offset=" + std::to_string(kStreamOffset);
}

void BootCache::commit(const ReadyState& ready) {
    if (saving_.empty()) {
        throw Error("boot cache: commit() without save_uri()");
    }
    std::string header_json = to_json(ready, key_).dump();
    OpenFile file{open(saving_.c_str(), O_RDWR | O_CLOEXEC)};
    if (file.fd < 0) {
        throw Error(system_error("cannot write " + saving_));
    }
    std::string header =
        std::string(kMagic) + "\n" + checksum(file.fd, header_json) + "\n" + header_json + "\n";
    if (header.size() > kStreamOffset) {
        throw Error("boot cache: the boot's header (its console) is larger than " +
                    std::to_string(kStreamOffset) + " bytes");
    }
    if (pwrite(file.fd, header.data(), header.size(), 0) != ssize_t(header.size())) {
        throw Error(system_error("cannot write " + saving_));
    }
    if (rename(saving_.c_str(), path_.c_str()) != 0) {
        throw Error(system_error("cannot rename " + saving_ + " to " + path_));
    }
    saving_.clear();
    prune(fs::path(path_).parent_path());
}

}  // namespace faultline
