// One QEMU child process, with its stdout and stderr in files of the run
// dir, in a process group of its own. It cannot outlive the harness process
// (PR_SET_PDEATHSIG from a thread that lasts as long as the process) but
// outlives the thread that started it. Any thread of the process may drive it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace faultline {

class QemuProcess {
public:
    QemuProcess(const std::vector<std::string>& argv, const std::string& stdout_path,
                const std::string& stderr_path);
    ~QemuProcess();
    QemuProcess(const QemuProcess&) = delete;
    QemuProcess& operator=(const QemuProcess&) = delete;

    // How the process ended ("exited with status 1", "killed by signal 9"),
    // or nothing while it runs. Never blocks.
    std::optional<std::string> exit_status();
    // Waits up to `grace` for a voluntary exit, then kills. Returns the status.
    std::string stop(std::chrono::milliseconds grace);

private:
    pid_t pid_ = -1;
    std::optional<std::string> status_;
};

}  // namespace faultline
