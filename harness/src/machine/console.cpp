#include "faultline/machine/console.hpp"

#include <array>

namespace faultline {

namespace {

// The first line of each report the kernel prints (lib/bug.c, kernel/panic.c,
// mm/kasan/report.c, kernel/locking/lockdep.c — whose splats open with
// "WARNING:" or "BUG:" —, kernel/rcu/tree_stall.h, kernel/hung_task.c,
// lib/ubsan.c, arch/x86/kernel/dumpstack.c).
constexpr std::array<std::string_view, 10> kReportOpenings = {
    "BUG:",
    "WARNING:",
    "Oops",
    "KASAN",
    "kernel BUG at",
    "general protection fault",
    "detected stall",
    "blocked for more than",
    "UBSAN:",
    "Kernel panic",
};

}  // namespace

std::vector<std::string> kernel_reports(std::string_view console) {
    std::vector<std::string> reports;
    while (!console.empty()) {
        size_t end = console.find('\n');
        std::string_view line = console.substr(0, end);
        if (line.ends_with('\r')) {  // the serial console ends its lines with CR LF
            line.remove_suffix(1);
        }
        for (std::string_view opening : kReportOpenings) {
            if (line.find(opening) != std::string_view::npos) {
                reports.emplace_back(line);
                break;
            }
        }
        console.remove_prefix(end == std::string_view::npos ? console.size() : end + 1);
    }
    return reports;
}

}  // namespace faultline
