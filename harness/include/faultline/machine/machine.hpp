// A faultline guest: QEMU (the faultline fork) booting the faultline Linux
// guest under -icount, driven through QMP and the mailbox agent.
//
// Between commands the guest sits stopped in a mailbox handshake, so every
// command starts at an instruction count that depends only on what ran
// before it. Not thread-safe: one thread at a time drives one Machine (any
// thread: QEMU lives as long as the process, not the thread that booted it).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "faultline/injection/inject.hpp"
#include "faultline/injection/trace.hpp"
#include "faultline/machine/agent.hpp"
#include "faultline/machine/boot_cache.hpp"
#include "faultline/machine/machine_config.hpp"
#include "faultline/machine/message.hpp"
#include "faultline/machine/qemu_process.hpp"
#include "faultline/machine/qmp.hpp"

namespace faultline {

struct BootInfo {
    double ready_s = 0;           // host seconds from QEMU start to the agent's "ready"
    uint64_t icount_at_ready = 0; // guest instructions executed until then
    int cpus = 0;                 // CPUs the guest kernel brought online
    std::string kernel_release;
    std::string qemu_version;
    bool from_boot_cache = false;  // loaded, not booted (ready_s is the load)
    // Why the boot cache was not used or not filled (a file rebuilt, a
    // directory not writable), for the user; empty when all went well.
    std::string boot_cache_note;
};

class Machine {
public:
    explicit Machine(MachineConfig config);
    ~Machine();
    Machine(const Machine&) = delete;
    Machine& operator=(const Machine&) = delete;

    // Starts QEMU and waits for the agent, or loads the state at ready from
    // config.boot_cache_dir (and saves it there after a boot): from either,
    // the guest runs the same instructions. Throws FileMissing,
    // BootTimeout, GuestPanic, QemuDied.
    BootInfo boot();
    // Runs a program already in the guest: start() then wait(). A non-zero
    // budget_ms is guest time (instructions, at 1 ns each, plus skipped idle
    // time): past it the guest kills the program and its children, and the
    // result says timed_out, at the same instruction on every run. The
    // program runs as nobody unless user says root. Throws CommandTimeout
    // (host time, the backstop), GuestPanic, QemuDied, AgentError.
    RunResult run(const std::string& program, const std::vector<std::string>& args = {},
                  uint32_t budget_ms = 0, RunAs user = RunAs::nobody);
    // Starts a program and returns while the guest runs it.
    void start(const std::string& program, const std::vector<std::string>& args = {},
               uint32_t budget_ms = 0, RunAs user = RunAs::nobody);
    // Waits for the started program (up to command_timeout_s).
    RunResult wait();
    // Starts a program held before its first instruction (or at its own
    // entry point, libraries loaded), so triggers can be armed in its
    // address space; run_spawned() lets it go and waits.
    Process spawn(const std::string& program, const std::vector<std::string>& args = {},
                  uint32_t budget_ms = 0, RunAs user = RunAs::nobody,
                  Hold hold = Hold::first_instruction);
    RunResult run_spawned();
    // Opens QEMU's gdbstub on localhost:port (its monitor command
    // gdbserver). ConfigError when QEMU cannot listen there.
    void listen_gdb(int port);
    // For a debugger attached to the gdbstub: lets the spawned program go
    // but leaves the vCPUs stopped until the debugger continues them;
    // wait() then returns the program's result (the debugger may hold the
    // guest for as long as command_timeout_s).
    void release_spawned_to_debugger();
    // Replaces the injection schedule (entries fire in order, on the vCPU
    // thread, with no host round trip). Call while the guest is parked.
    void arm(const std::vector<ScheduleEntry>& schedule);
    // Drops the entries that have not fired; firings() still lists the rest.
    void disarm();
    // Entries fired since the last arm().
    std::vector<Firing> firings();
    // Records protection-key events of these kinds from now on, in the
    // address space whose page-table root is cr3 (Process::cr3) or in all,
    // dropping what was recorded before; no kinds: stop recording (what was
    // recorded stays readable). Call while the guest is parked. Error when
    // QEMU cannot record them.
    void trace_pk(const std::vector<PkEvent::Kind>& kinds, std::optional<uint64_t> cr3 = {});
    // The events recorded since trace_pk() or the last call, in order.
    // QmpError when QEMU lost some past kPkTraceLimit.
    std::vector<PkEvent> pk_events();
    // Writes bytes to a guest file (mode in octal, e.g. 0755).
    void put(const std::string& guest_path, const std::string& bytes, unsigned mode = 0755);
    // Copies a host file into the guest; throws FileMissing if it is absent.
    void put_file(const std::string& host_path, const std::string& guest_path,
                  unsigned mode = 0755);
    // Keeps the parked machine's whole state in QEMU's memory (QMP
    // faultline-snapshot: guest RAM, CPUs, devices, the virtual clock) and
    // what the harness knows of the agent, replacing an earlier snapshot.
    // Call between commands.
    void snapshot();
    // Puts the machine back into the last snapshot's state (QMP
    // faultline-restore: the pages written since and the device state),
    // the agent's reply sequence included: from there it repeats,
    // instruction for instruction, what it did after the snapshot. A
    // started program is stopped and abandoned; the console log keeps what
    // every run printed. Returns the number of guest pages copied back.
    // Throws ConfigError without a snapshot.
    uint64_t restore();
    // Guest instructions executed so far (all vCPUs).
    uint64_t icount();
    // Stop / continue the vCPUs while a started program runs. Between
    // commands the guest is stopped anyway and stays parked until the next.
    void pause();
    void resume();
    bool paused() const { return paused_; }
    // Ends QEMU (QMP quit, then SIGKILL). Idempotent; the destructor calls it.
    void shutdown();
    // Called about every 20 ms while the machine waits for QEMU or the
    // guest (boot, commands, QMP), to let a caller give up: whatever it
    // throws ends the wait and QEMU, and leaves the machine unusable. For
    // Ctrl-C in Python, a signal in the CLI. Not called by shutdown().
    void set_interrupt_check(std::function<void()> check) { interrupt_check_ = std::move(check); }
    // Everything the guest kernel printed (at warning level and worse, and
    // kernel_args may change that), also after shutdown.
    std::string console() const;
    // The kernel reports on the console (console.hpp): a bug the guest kernel found in itself.
    std::vector<std::string> kernel_reports() const;
    const MachineConfig& config() const { return config_; }

private:
    // QEMU started (waiting for an incoming migration when asked), its
    // console log beginning with `console`, and its QMP connected; returns
    // query-version's answer.
    QmpClient::Json start_qemu(bool incoming, const std::string& console,
                               const QmpClient::Tick& tick);
    void stop_qemu();
    BootInfo boot_guest(const QmpClient::Tick& tick, const QmpClient::Json& version,
                        std::chrono::steady_clock::time_point deadline);
    BootInfo load_ready_state(const ReadyState& ready, const std::string& uri,
                              const QmpClient::Tick& tick);
    // The machine at ready, booted or loaded: what boot() returns of it.
    BootInfo ready_at(int cpus, const std::string& kernel_release, const QmpClient::Json& version);
    void save_ready_state(BootCache& cache, const BootInfo& info, const QmpClient::Tick& tick);
    // Waits for the migration QEMU runs (to or from a file) to end; Error when it failed.
    void await_migration(const QmpClient::Tick& tick);
    // Puts request in the mailbox and, unless a debugger is to, continues the vCPUs.
    void send_request(const Message& request, bool continue_vcpus = true);
    Message receive_reply();
    void fill_inbox(const Message& message, const QmpClient::Tick& tick);
    Message await_handshake(std::chrono::steady_clock::time_point deadline, bool booting);
    // parse(input); an AgentError from it leaves the machine unusable.
    template <typename Parse, typename Input>
    auto parsed(Parse parse, const Input& input) -> decltype(parse(input));
    void check_alive();
    void check_interrupt();
    // The tick for a QMP call that only needs QEMU to be alive.
    QmpClient::Tick alive() { return [this] { check_alive(); }; }
    void check_console();
    void require_running() const;
    std::string tail_of(const std::string& path, size_t lines) const;

    MachineConfig config_;
    AgentSession agent_;
    // The harness's side of the snapshot: the agent's next reply number and
    // the mailbox's handshake count come back with the guest's memory.
    struct Snapshot {
        AgentSession agent;
        uint64_t handshakes = 0;
    };
    std::optional<Snapshot> snapshot_;
    std::function<void()> interrupt_check_;
    bool own_run_dir_ = false;
    std::unique_ptr<QemuProcess> qemu_;
    QmpClient qmp_;
    uint64_t handshakes_ = 0;
    int cpus_ = 0;  // online in the guest, from its ready message
    bool booted_ = false;
    bool broken_ = false;  // a timeout or crash left the guest in an unknown state
    bool paused_ = false;
    bool pending_ = false;  // a command was sent and its reply not yet read
    size_t console_scanned_ = 0;
    std::string final_console_;  // the console as QEMU left it, once shut down
};

}  // namespace faultline
