// What the guest kernel said went wrong: the report lines a kernel prints
// when it finds a bug in itself (WARN, BUG, Oops, KASAN, lockdep, RCU
// stalls, hung tasks, panics). A test that leaves one on the console has
// failed, whatever its program returned.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace faultline {

// The console lines that open a kernel report, in order.
std::vector<std::string> kernel_reports(std::string_view console);

}  // namespace faultline
