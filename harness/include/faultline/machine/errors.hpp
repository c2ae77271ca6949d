// Typed failures of the harness. Each names its cause in what(); the ones a
// user acts on carry the evidence (a path, a console or stderr tail).
#pragma once

#include <stdexcept>
#include <string>

namespace faultline {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The configuration or arguments are unusable (bad CPU count, bad name...).
class ConfigError : public Error {
public:
    using Error::Error;
};

// A file the machine needs (QEMU, kernel, initramfs, firmware, a binary to
// upload) does not exist.
class FileMissing : public Error {
public:
    FileMissing(const std::string& what_file, const std::string& path);
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// The guest kernel panicked; console_tail() has the last console lines.
class GuestPanic : public Error {
public:
    explicit GuestPanic(const std::string& console_tail);
    const std::string& console_tail() const { return console_tail_; }

private:
    std::string console_tail_;
};

class Timeout : public Error {
public:
    using Error::Error;
};

// The guest did not reach "ready" in time.
class BootTimeout : public Timeout {
public:
    using Timeout::Timeout;
};

// A guest command did not come back in time. The machine is unusable after.
class CommandTimeout : public Timeout {
public:
    using Timeout::Timeout;
};

// QEMU exited while the harness still needed it.
class QemuDied : public Error {
public:
    QemuDied(const std::string& exit_status, const std::string& stderr_tail);
    const std::string& exit_status() const { return exit_status_; }
    const std::string& stderr_tail() const { return stderr_tail_; }

private:
    std::string exit_status_;
    std::string stderr_tail_;
};

// QMP answered a command with an error, or spoke something unexpected.
class QmpError : public Error {
public:
    using Error::Error;
};

// The guest agent refused a command (it says why), or a reply was not the
// agent's (malformed, forged, out of order: the machine is unusable after).
class AgentError : public Error {
public:
    using Error::Error;
};

}  // namespace faultline
