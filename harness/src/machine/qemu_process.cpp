#include "faultline/machine/qemu_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

#include "faultline/machine/errors.hpp"

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

// A thread that lives as long as the process, to fork QEMU from:
// PR_SET_PDEATHSIG fires when the thread that forked exits, so a QEMU
// forked by a passing thread (a Python worker thread that booted a Machine)
// would be killed with it. Never destroyed: it runs until the process ends.
class LifetimeThread {
public:
    // Runs task on the process's lifetime thread, started on first use, and
    // waits for it. One task at a time.
    static void run(const std::function<void()>& task) {
        static std::mutex guard;
        static LifetimeThread* thread = nullptr;
        static pid_t owner = 0;
        std::lock_guard<std::mutex> one_task(guard);
        // A forked child of this process has no copy of the thread.
        if (!thread || owner != getpid()) {
            thread = new LifetimeThread;
            owner = getpid();
        }
        thread->perform(task);
    }

private:
    LifetimeThread() {
        // Asynchronous signals are for the threads that handle them
        // (Python's, the CLI's), not this one.
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        std::thread(&LifetimeThread::serve, this).detach();
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }

    void perform(const std::function<void()>& task) {
        std::unique_lock<std::mutex> lock(mutex_);
        task_ = &task;
        changed_.notify_all();
        changed_.wait(lock, [this] { return task_ == nullptr; });
    }

    void serve() {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            changed_.wait(lock, [this] { return task_ != nullptr; });
            (*task_)();
            task_ = nullptr;
            changed_.notify_all();
        }
    }

    std::mutex mutex_;
    std::condition_variable changed_;
    const std::function<void()>* task_ = nullptr;
};

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
    sigset_t none;
    sigemptyset(&none);

    int fork_errno = 0;
    LifetimeThread::run([&] {
        pid_ = fork();
        fork_errno = errno;
        if (pid_ != 0) {
            return;
        }
        // Die with the harness process (SIGKILL: QEMU must not linger
        // holding a VM); the lifetime thread that forked ends only with it.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
        // A process group of its own: a terminal's Ctrl-C is the harness's
        // to act on, and it ends QEMU itself.
        setpgid(0, 0);
        sigprocmask(SIG_SETMASK, &none, nullptr);
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
    });
    if (pid_ < 0) {
        throw Error(std::string("fork: ") + strerror(fork_errno));
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
