// faultline run: one program in the guest, its output and exit status
// passed through; optionally its protection-key events as a trace file.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "faultline/injection/trace.hpp"
#include "faultline/machine/errors.hpp"

namespace faultline::cli {

namespace {

std::string synopsis() {
    return "faultline run [--json] [--root] [--binary HOST_FILE] [--library LIB.so]...\n"
           "                       [--file HOST[:GUEST]]... [OPTIONS] -- [PROGRAM] [ARGS...]\n";
}

// The --pk-trace file, written whole or not at all: lines go to a temporary
// file beside it, made before anything boots (so an unwritable place is found
// first), renamed over it at the end, removed on any failure.
class PkTraceFile {
public:
    explicit PkTraceFile(const std::string& path) : path_(path), temp_(path + ".XXXXXX") {
        int fd = mkstemp(temp_.data());
        if (fd < 0) {
            throw UsageError{"--pk-trace " + path + ": cannot write there: " + strerror(errno)};
        }
        close(fd);
    }
    ~PkTraceFile() {
        if (!committed_) {
            unlink(temp_.c_str());
        }
    }
    PkTraceFile(const PkTraceFile&) = delete;
    PkTraceFile& operator=(const PkTraceFile&) = delete;

    void commit(const std::vector<PkEvent>& events) {
        std::ofstream out(temp_, std::ios::trunc);
        for (const auto& e : events) {
            out << e.json().dump() << "\n";
        }
        out.close();
        if (!out || rename(temp_.c_str(), path_.c_str()) != 0) {
            throw Error("cannot write " + path_ + ": " + strerror(errno));
        }
        committed_ = true;
    }

private:
    std::string path_;
    std::string temp_;
    bool committed_ = false;
};

// A path after "--" names a file of the guest, which a newcomer may take for
// one of this host. The guest agent (guest-kernel/agent/agent.c) says so in
// this line when exec finds no such file, and exits 127.
bool guest_has_no_such_program(const std::string& program, const RunResult& r) {
    const std::string exec_failed =
        "faultline-agent: exec " + program + ": " + std::strerror(ENOENT) + "\n";
    return !r.signaled && r.exit_code == 127 && r.stderr_text.ends_with(exec_failed);
}

int run(const Options& o) {
    std::unique_ptr<PkTraceFile> pk_trace;
    if (!o.pk_trace_file.empty()) {
        pk_trace = std::make_unique<PkTraceFile>(o.pk_trace_file);
    }
    // Bad input is found before anything boots.
    GuestFiles files = guest_files(o);
    Machine machine(o.config);
    stop_on_signal(machine);
    BootInfo info = boot_machine(machine);
    put_guest_files(machine, files.uploads);
    std::string program;
    std::vector<std::string> args = o.program;
    if (!o.binary.empty()) {
        program = uploaded_path(o.binary);
    } else {
        program = args.front();
        args.erase(args.begin());
    }
    if (!o.json) {
        describe_boot(std::cerr, info);
    }
    uint32_t budget_ms = uint32_t(std::max(o.budget_ms, 0));
    RunResult r;
    if (pk_trace) {
        // Held before its first instruction, so its address space is known
        // before it runs: the trace is the program's events and nothing else's.
        Process process = machine.spawn(program, args, budget_ms, o.user);
        machine.trace_pk(pk_event_kinds_from_list(o.pk_kinds), process.cr3);
        r = machine.run_spawned();
        pk_trace->commit(machine.pk_events());
    } else {
        r = machine.run(program, args, budget_ms, o.user);
    }
    if (o.json) {
        // Guest output is bytes; invalid UTF-8 becomes U+FFFD rather than an exception.
        auto text = [](const nlohmann::json& value) {
            return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        };
        std::cout << "{\"program\":" << text(program) << ",\"exit_code\":" << r.exit_code
                  << ",\"signaled\":" << (r.signaled ? "true" : "false")
                  << ",\"timed_out\":" << (r.timed_out ? "true" : "false")
                  << ",\"stdout\":" << text(r.stdout_text) << ",\"stderr\":" << text(r.stderr_text)
                  << ",\"icount\":" << r.icount << ",\"icount_at_ready\":" << info.icount_at_ready
                  << ",\"ready_s\":" << info.ready_s
                  << ",\"kernel_reports\":" << text(machine.kernel_reports())
                  << "}\n";
    } else {
        std::cout << r.stdout_text;
        std::cerr << r.stderr_text;
        std::cerr << "faultline: " << program
                  << (r.timed_out  ? " killed at the end of its budget, signal "
                      : r.signaled ? " killed by signal "
                                   : " exited ")
                  << r.exit_code << " after " << r.icount << " guest instructions\n";
    }
    // An uploaded program is there: its ENOENT is its ELF interpreter's.
    if (o.binary.empty() && guest_has_no_such_program(program, r)) {
        std::cerr << "faultline: " << program << ": no such file in the guest (the path after -- "
                  << "is the guest's); to run a program from this host, upload it with "
                  << "--binary HOST_PATH\n";
    }
    tell_kernel_reports(machine.kernel_reports());
    return r.signaled ? 128 + r.exit_code : r.exit_code;
}

}  // namespace

const Command run_command{"run", synopsis, nullptr, run};

}  // namespace faultline::cli
