// JUnit XML, the test report CI systems show (GitLab, Jenkins, GitHub
// Actions reporters): one <testcase> per sweep cell or conformance check.
#pragma once

#include <string>
#include <vector>

namespace faultline {

struct JunitCase {
    enum class Verdict { passed, failed, skipped };
    std::string classname;  // what groups cases: a file and sequence, a suite
    std::string name;
    Verdict verdict = Verdict::passed;
    // failed: the one line a CI page shows (the model's and the observed
    // answer); skipped: why there is no verdict.
    std::string message;
    std::string details;  // failed: the rest (the reproducer's path...)
};

// The message of a cell the workload did not reach: it has no verdict.
constexpr const char* kJunitNotReached = "not reached by the workload: no verdict";

// A <testsuites> document with one <testsuite name="suite">.
std::string junit_xml(const std::string& suite, const std::vector<JunitCase>& cases);

}  // namespace faultline
