// The machine's state at ready, on disk: the first command boots and saves
// it (QEMU's migration to a file), later ones load it instead of booting.
//
// A file is named by the key of what it was booted from: the SHA-256 of
// QEMU, kernel, initramfs and firmware, and the whole QEMU command line
// (CPUs, memory, kernel arguments, CPU properties). Its SHA-256 is checked
// before every load, so a truncated or damaged file is rebuilt, never
// trusted; files are written beside and renamed into place, so processes
// filling the cache at once each leave a whole file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "faultline/machine/machine_config.hpp"

namespace faultline {

// What the harness knows at ready, besides what QEMU saves: the agent's
// session and ready message, the mailbox's handshake count, and what the
// boot printed.
struct ReadyState {
    std::string agent_secret;
    uint64_t agent_next_sequence = 0;
    uint64_t handshakes = 0;
    int cpus = 0;
    std::string kernel_release;
    std::string console;
};

class BootCache {
public:
    // Off when config.boot_cache_dir is empty. Hashes the machine's files:
    // FileMissing when one is absent.
    explicit BootCache(const MachineConfig& config);
    ~BootCache();
    BootCache(const BootCache&) = delete;
    BootCache& operator=(const BootCache&) = delete;

    bool enabled() const { return !path_.empty(); }
    const std::string& path() const { return path_; }

    // The saved state, checked whole, or nullopt: `problem` says why when
    // there is a file and it cannot be used (empty when there is none).
    struct Entry {
        ReadyState ready;
        std::string qemu_uri;  // for migrate-incoming, valid while this BootCache lives
    };
    std::optional<Entry> load(std::string& problem);

    // Saving: QEMU migrates to save_uri(), then commit() adds the header and
    // renames the file into place. Error when it cannot be written; a file
    // begun and not committed is removed.
    std::string save_uri();
    void commit(const ReadyState& ready);

private:
    void forget_saved();

    std::string path_;
    std::string key_;
    int load_fd_ = -1;
    std::string saving_;  // the temporary file QEMU writes
};

}  // namespace faultline
