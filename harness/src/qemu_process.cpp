#include "faultline/qemu_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "faultline/errors.hpp"

namespace faultline {

namespace {

std::string describe(int status) {
    if (WIFEXITED(status)) {
        return "exited with status " + std::to_string(WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
               strsignal(WTERMSIG(status)) + ")";
    }
    return "ended with wait status " + std::to_string(status);
}

}  // namespace

QemuProcess::QemuProcess(const std::vector<std::string>& argv, const std::string& stdout_path,
                         const std::string& stderr_path) {
    // Everything the child needs is prepared before fork: after it, a
    // multi-threaded parent's child may only make async-signal-safe calls.
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    pid_t parent = getpid();

    pid_ = fork();
    if (pid_ < 0) {
        throw Error(std::string("fork: ") + strerror(errno));
    }
    if (pid_ == 0) {
        // Die with the harness (SIGKILL: QEMU must not linger holding a VM).
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
        // The QMP socket and the console log QEMU creates are the user's alone.
        umask(0177);
        int null = open("/dev/null", O_RDONLY);
        int out = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (null < 0 || out < 0 || err < 0) {
            _exit(127);
        }
        dup2(null, 0);
        dup2(out, 1);
        dup2(err, 2);
        execv(args[0], args.data());
        const char msg[] = "faultline: cannot execute QEMU\n";
        (void)!write(2, msg, sizeof(msg) - 1);
        _exit(127);
    }
}

QemuProcess::~QemuProcess() {
    if (pid_ > 0) {
        stop(std::chrono::milliseconds(0));
    }
}

std::optional<std::string> QemuProcess::exit_status() {
    if (!status_) {
        int status;
        pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            status_ = describe(status);
        }
    }
    return status_;
}

std::string QemuProcess::stop(std::chrono::milliseconds grace) {
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (!exit_status() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!status_) {
        kill(pid_, SIGKILL);
        int status;
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        status_ = describe(status);
    }
    return *status_;
}

}  // namespace faultline
