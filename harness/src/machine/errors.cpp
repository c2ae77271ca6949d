#include "faultline/machine/errors.hpp"

namespace faultline {

FileMissing::FileMissing(const std::string& what_file, const std::string& path)
    : Error(what_file + " not found: " + path), path_(path) {}

GuestPanic::GuestPanic(const std::string& console_tail)
    : Error("guest kernel panicked; console tail:\n" + console_tail), console_tail_(console_tail) {}

QemuDied::QemuDied(const std::string& exit_status, const std::string& stderr_tail)
    : Error("QEMU " + exit_status + (stderr_tail.empty() ? "" : "; stderr tail:\n" + stderr_tail)),
      exit_status_(exit_status),
      stderr_tail_(stderr_tail) {}

}  // namespace faultline
