#include "faultline/machine/machine.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "faultline/machine/base64.hpp"
#include "faultline/machine/console.hpp"
#include "faultline/machine/errors.hpp"
#include "faultline/machine/files.hpp"
#include "faultline/machine/qemu_command_line.hpp"

namespace faultline {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Json = QmpClient::Json;

namespace {

constexpr const char* kMailboxPath = "/machine/peripheral/mailbox";
constexpr const char* kPanicMarker = "Kernel panic - not syncing";
constexpr const char* kPanicEndMarker = "---[ end Kernel panic";
// The guest kernel is built with NR_CPUS=8 (guest-kernel/faultline.config).
constexpr int kMaxCpus = 8;

void require_file(const std::string& what, const std::string& path) {
    if (path.empty() || !fs::is_regular_file(path)) {
        throw FileMissing(what, path.empty() ? "(no path configured)" : path);
    }
}

std::string seconds_text(double seconds) {
    std::ostringstream s;
    s << seconds << " s";
    return s.str();
}

Clock::time_point deadline_after(double seconds) {
    return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(seconds));
}

}  // namespace

Machine::Machine(MachineConfig config) : config_(std::move(config)) {}

Machine::~Machine() { shutdown(); }

BootInfo Machine::boot() {
    if (qemu_) {
        throw ConfigError("machine already booted");
    }
    if (config_.cpus < 1 || config_.cpus > kMaxCpus) {
        throw ConfigError("cpus must be 1.." + std::to_string(kMaxCpus) + ", not " +
                          std::to_string(config_.cpus));
    }
    if (config_.memory_mib < 64) {
        throw ConfigError("memory_mib must be at least 64, not " +
                          std::to_string(config_.memory_mib));
    }
    require_file("QEMU", config_.qemu);
    require_file("guest kernel", config_.kernel);
    require_file("initramfs", config_.initrd);
    // qboot, and the option ROM that enters the kernel at its PVH entry.
    require_file("firmware", config_.firmware_dir + "/bios-microvm.bin");
    require_file("firmware", config_.firmware_dir + "/pvh.bin");
    if (config_.run_dir.empty()) {
        char tmpl[] = "/tmp/faultline-XXXXXX";
        if (!mkdtemp(tmpl)) {
            throw Error("cannot create a run directory under /tmp");
        }
        config_.run_dir = tmpl;
        own_run_dir_ = true;
    } else {
        fs::create_directories(config_.run_dir);
    }

    BootCache cache(config_);
    auto started = Clock::now();
    auto deadline = deadline_after(config_.boot_timeout_s);
    auto tick = [&] {
        check_alive();
        if (Clock::now() > deadline) {
            broken_ = true;
            throw BootTimeout("QEMU did not open its QMP socket or load its state within " +
                              seconds_text(config_.boot_timeout_s));
        }
    };
    std::string problem;
    if (auto entry = cache.load(problem)) {
        try {
            BootInfo info = load_ready_state(entry->ready, entry->qemu_uri, tick);
            info.ready_s = std::chrono::duration<double>(Clock::now() - started).count();
            return info;
        } catch (const Error& e) {
            problem = cache.path() + " did not load (" + e.what() + ")";
            stop_qemu();
            broken_ = false;
        }
    }
    BootInfo info = boot_guest(tick, start_qemu(false, "", tick), deadline);
    info.ready_s = std::chrono::duration<double>(Clock::now() - started).count();
    if (!problem.empty()) {
        info.boot_cache_note = "boot cache: " + problem + "; booted, saving it again";
    }
    if (cache.enabled()) {
        try {
            save_ready_state(cache, info, alive());
        } catch (const Error& e) {
            info.boot_cache_note = std::string("boot cache: not saved, the next command boots too: ") + e.what();
        }
    }
    return info;
}

QmpClient::Json Machine::start_qemu(bool incoming, const std::string& console,
                                    const QmpClient::Tick& tick) {
    // QEMU appends to the log (qemu_command_line.cpp).
    std::ofstream(config_.run_dir + "/console.log", std::ios::binary | std::ios::trunc) << console;
    console_scanned_ = 0;
    std::vector<std::string> command_line = qemu_command_line(config_);
    if (incoming) {
        command_line.insert(command_line.end(), {"-incoming", "defer"});
    }
    qemu_ = std::make_unique<QemuProcess>(command_line, config_.run_dir + "/qemu.stdout",
                                          config_.run_dir + "/qemu.stderr");
    qmp_.connect(config_.run_dir + "/qmp.sock", tick);
    return qmp_.execute("query-version", Json::object(), tick);
}

void Machine::stop_qemu() {
    if (qemu_) {
        qemu_->stop(std::chrono::milliseconds(0));
        qemu_.reset();
    }
    qmp_.close();
}

BootInfo Machine::boot_guest(const QmpClient::Tick& tick, const Json& version,
                             Clock::time_point deadline) {
    // Before the guest runs, so no program in it can be there to read it.
    fill_inbox(agent_.greeting(), tick);
    qmp_.execute("cont", Json::object(), tick);

    AgentReady ready = parsed(parse_ready, await_handshake(deadline, true));
    return ready_at(ready.cpus, ready.kernel_release, version);
}

BootInfo Machine::load_ready_state(const ReadyState& ready, const std::string& uri,
                                   const QmpClient::Tick& tick) {
    // What the boot printed, as if this QEMU had printed it.
    Json version = start_qemu(true, ready.console, tick);
    // After a load QEMU announces the machine's NICs (it has none) from
    // main-loop timers for about a second; each wakes the main loop at a
    // host-timed moment, where it may warp the virtual clock while the
    // vCPUs look idle, and a 2-vCPU program then ran a different number of
    // instructions on every load.
    qmp_.execute("migrate-set-parameters", Json{{"announce-rounds", 0}}, tick);
    qmp_.execute("migrate-incoming", Json{{"uri", uri}}, tick);
    await_migration(tick);
    agent_ = AgentSession(ready.agent_secret, ready.agent_next_sequence);
    handshakes_ = ready.handshakes;
    BootInfo info = ready_at(ready.cpus, ready.kernel_release, version);
    info.from_boot_cache = true;
    return info;
}

BootInfo Machine::ready_at(int cpus, const std::string& kernel_release, const Json& version) {
    booted_ = true;
    cpus_ = cpus;
    BootInfo info;
    info.icount_at_ready = icount();
    info.kernel_release = kernel_release;
    info.cpus = cpus;
    const Json& q = version["qemu"];
    info.qemu_version = std::to_string(q["major"].get<int>()) + "." +
                        std::to_string(q["minor"].get<int>()) + "." +
                        std::to_string(q["micro"].get<int>());
    return info;
}

void Machine::save_ready_state(BootCache& cache, const BootInfo& info, const QmpClient::Tick& tick) {
    qmp_.execute("migrate", Json{{"uri", cache.save_uri()}}, tick);
    await_migration(tick);
    ReadyState ready;
    ready.agent_secret = agent_.secret();
    ready.agent_next_sequence = agent_.next_sequence();
    ready.handshakes = handshakes_;
    ready.cpus = info.cpus;
    ready.kernel_release = info.kernel_release;
    ready.console = file_bytes(config_.run_dir + "/console.log").value_or("");
    cache.commit(ready);
}

void Machine::await_migration(const QmpClient::Tick& tick) {
    for (;;) {
        Json state = qmp_.execute("query-migrate", Json::object(), tick);
        std::string status = state.value("status", "");
        if (status == "completed") {
            return;
        }
        if (status == "failed" || status == "cancelled") {
            throw Error("migration " + status + ": " + state.value("error-desc", "no reason given"));
        }
        tick();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void Machine::check_interrupt() {
    if (!interrupt_check_) {
        return;
    }
    try {
        interrupt_check_();
    } catch (...) {
        // The command in flight can be neither finished nor taken back.
        broken_ = true;
        qemu_->stop(std::chrono::milliseconds(0));
        throw;
    }
}

template <typename Parse, typename Input>
auto Machine::parsed(Parse parse, const Input& input) -> decltype(parse(input)) {
    try {
        return parse(input);
    } catch (const AgentError&) {
        // The agent and the harness no longer agree on anything.
        broken_ = true;
        throw;
    }
}

void Machine::check_alive() {
    check_interrupt();
    if (auto status = qemu_->exit_status()) {
        broken_ = true;
        check_console();  // a panic explains an exit better than the exit status
        throw QemuDied(*status, tail_of(config_.run_dir + "/qemu.stderr", 20));
    }
}

void Machine::check_console() {
    std::string log = file_bytes(config_.run_dir + "/console.log").value_or("");
    size_t from = console_scanned_ > 64 ? console_scanned_ - 64 : 0;
    if (log.find(kPanicMarker, from) == std::string::npos) {
        console_scanned_ = log.size();
        return;
    }
    // The panic banner comes first; give the kernel a moment to print the rest.
    auto until = Clock::now() + std::chrono::seconds(2);
    while (log.find(kPanicEndMarker, from) == std::string::npos && Clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        log = file_bytes(config_.run_dir + "/console.log").value_or("");
    }
    broken_ = true;
    std::string tail = tail_of(config_.run_dir + "/console.log", 40);
    qemu_->stop(std::chrono::milliseconds(0));
    throw GuestPanic(tail);
}

Message Machine::await_handshake(Clock::time_point deadline, bool booting) {
    auto tick = [&] {
        check_alive();
        check_console();
        if (Clock::now() > deadline) {
            broken_ = true;
            qmp_.execute("stop", Json::object(), [] {});
            if (booting) {
                throw BootTimeout("guest agent not ready within " +
                                  seconds_text(config_.boot_timeout_s) + "; console tail:\n" +
                                  tail_of(config_.run_dir + "/console.log", 20));
            }
            throw CommandTimeout("guest command did not finish within " +
                                 seconds_text(config_.command_timeout_s) +
                                 "; the machine is unusable now");
        }
    };
    for (;;) {
        qmp_.wait_event("STOP", tick);
        // A STOP that is not a new handshake came from pause(): keep waiting.
        Json count = qmp_.qom_get(kMailboxPath, "handshakes", tick);
        if (count.get<uint64_t>() > handshakes_) {
            handshakes_ = count.get<uint64_t>();
            pending_ = false;  // the guest is parked again, whatever the reply says
            break;
        }
    }
    Json outbox = qmp_.qom_get(kMailboxPath, "outbox", tick);
    std::string bytes = base64_decode(outbox.get<std::string>());
    return parsed([this](const std::string& b) { return agent_.accept(decode_message(b)); }, bytes);
}

void Machine::require_running() const {
    if (broken_) {
        throw Error("machine unusable after an earlier failure; shut it down and boot a new one");
    }
    if (!booted_) {
        throw ConfigError("machine not booted");
    }
}

// Through a file QEMU reads (qemu-patches/0019): a program's libraries are
// megabytes, which inside QMP would be base64 and parsed a byte at a time.
void Machine::fill_inbox(const Message& message, const QmpClient::Tick& tick) {
    std::string path = config_.run_dir + "/inbox";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    std::string bytes = encode_message(message);
    if (!out.write(bytes.data(), std::streamsize(bytes.size())).flush()) {
        throw Error("cannot write the guest's next message to " + path);
    }
    out.close();
    qmp_.qom_set(kMailboxPath, "inbox-file", path, tick);
}

void Machine::send_request(const Message& request, bool continue_vcpus) {
    require_running();
    if (pending_) {
        throw ConfigError("a guest command is still running: wait() for it first");
    }
    fill_inbox(request, alive());
    if (continue_vcpus) {
        qmp_.execute("cont", Json::object(), alive());
    }
    pending_ = true;
    paused_ = false;
}

Message Machine::receive_reply() {
    require_running();
    if (!pending_) {
        throw ConfigError("no guest command is running");
    }
    if (paused_) {
        throw ConfigError("the machine is paused: resume() before waiting for the command");
    }
    Message reply = await_handshake(deadline_after(config_.command_timeout_s), false);
    // The agent refusing a command leaves it ready for the next.
    if (reply.size() == 2 && reply[0] == "error") {
        throw AgentError("guest agent: " + reply[1]);
    }
    return reply;
}

void Machine::start(const std::string& program, const std::vector<std::string>& args,
                    uint32_t budget_ms, RunAs user) {
    send_request(program_request("run", program, args, budget_ms, user));
}

RunResult Machine::wait() { return parsed(parse_run_reply, receive_reply()); }

RunResult Machine::run(const std::string& program, const std::vector<std::string>& args,
                       uint32_t budget_ms, RunAs user) {
    start(program, args, budget_ms, user);
    return wait();
}

Process Machine::spawn(const std::string& program, const std::vector<std::string>& args,
                       uint32_t budget_ms, RunAs user, Hold hold) {
    send_request(program_request(hold == Hold::program_entry ? "spawn-main" : "spawn", program,
                                 args, budget_ms, user));
    return parsed(parse_spawn_reply, receive_reply());
}

RunResult Machine::run_spawned() {
    send_request({"resume"});
    return wait();
}

void Machine::listen_gdb(int port) {
    require_running();
    std::string device = "tcp:localhost:" + std::to_string(port);
    Json said = qmp_.execute("human-monitor-command",
                             Json{{"command-line", "gdbserver " + device}}, alive());
    // The monitor answers in words, an error too.
    std::string text = said.is_string() ? said.get<std::string>() : said.dump();
    if (text.find("Waiting for gdb connection") == std::string::npos) {
        throw ConfigError("QEMU cannot open its gdbstub on " + device + ": " + text);
    }
}

void Machine::release_spawned_to_debugger() { send_request({"resume"}, false); }

void Machine::arm(const std::vector<ScheduleEntry>& schedule) {
    require_running();
    if (pending_ && !paused_) {
        throw ConfigError("arm() while the guest runs: pause() first");
    }
    for (const auto& e : schedule) {
        const EventKind& kind = event_kind(e.event.kind);
        if (kind.arg == FAULTLINE_ARG_CPU && e.event.arg != FAULTLINE_ARG_DEFAULT &&
            e.event.arg >= uint64_t(cpus_)) {
            throw ConfigError(std::string(kind.name) + " to CPU " + std::to_string(e.event.arg) +
                              ": the guest has " + std::to_string(cpus_) + " CPUs");
        }
    }
    qmp_.execute("faultline-arm", faultline_arm_arguments(schedule), alive());
}

void Machine::disarm() {
    require_running();
    qmp_.execute("faultline-disarm", Json::object(), alive());
}

std::vector<Firing> Machine::firings() {
    require_running();
    return firings_of(qmp_.execute("query-faultline", Json::object(), alive()));
}

void Machine::trace_pk(const std::vector<PkEvent::Kind>& kinds, std::optional<uint64_t> cr3) {
    require_running();
    if (pending_ && !paused_) {
        throw ConfigError("trace_pk() while the guest runs: pause() first");
    }
    try {
        qmp_.execute("faultline-pk-trace", faultline_pk_trace_arguments(kinds, cr3), alive());
    } catch (const QmpError& e) {
        if (std::string(e.what()).find("has not been found") != std::string::npos) {
            throw Error("this QEMU does not record protection-key events (" +
                        config_.qemu + " lacks qemu-patches/0013): " + e.what());
        }
        throw;
    }
}

std::vector<PkEvent> Machine::pk_events() {
    require_running();
    return pk_events_of(qmp_.execute("query-faultline-pk-events", Json::object(), alive()));
}

void Machine::put(const std::string& guest_path, const std::string& bytes, unsigned mode) {
    std::ostringstream octal;
    octal << std::oct << mode;
    send_request({"put", guest_path, octal.str(), bytes});
    parsed(parse_put_reply, receive_reply());
}

void Machine::put_file(const std::string& host_path, const std::string& guest_path,
                       unsigned mode) {
    require_file("file to upload", host_path);
    put(guest_path, file_bytes(host_path).value_or(""), mode);
}

void Machine::snapshot() {
    require_running();
    if (pending_) {
        throw ConfigError("snapshot() while a guest command runs: wait() for it first");
    }
    qmp_.execute("faultline-snapshot", Json::object(), alive());
    snapshot_ = Snapshot{agent_, handshakes_};
}

uint64_t Machine::restore() {
    require_running();
    if (!snapshot_) {
        throw ConfigError("restore() without a snapshot: snapshot() first");
    }
    if (pending_ && !paused_) {
        qmp_.execute("stop", Json::object(), alive());
    }
    Json info;
    try {
        info = qmp_.execute("faultline-restore", Json::object(), alive());
    } catch (const QmpError&) {
        // Refused only when a load failed half way: the guest is neither state.
        broken_ = true;
        throw;
    }
    agent_ = snapshot_->agent;
    handshakes_ = snapshot_->handshakes;
    pending_ = false;
    paused_ = false;
    return info["pages"].get<uint64_t>();
}

uint64_t Machine::icount() {
    require_running();
    return qmp_.qom_get(kMailboxPath, "icount", alive()).get<uint64_t>();
}

// Between commands the agent is parked in a handshake with the VM stopped:
// it leaves only with the next command, so pause/resume act on the vCPUs
// only while a started command runs.
void Machine::pause() {
    require_running();
    if (pending_ && !paused_) {
        qmp_.execute("stop", Json::object(), alive());
    }
    paused_ = true;
}

void Machine::resume() {
    require_running();
    // The program may have ended and the agent reached its handshake just
    // before the pause took effect: it must stay parked until wait() has
    // read its reply, or it would read an inbox nobody wrote.
    if (pending_ && paused_ &&
        qmp_.qom_get(kMailboxPath, "handshakes", alive()).get<uint64_t>() == handshakes_) {
        qmp_.execute("cont", Json::object(), alive());
    }
    paused_ = false;
}

void Machine::shutdown() {
    if (qemu_) {
        try {
            auto deadline = deadline_after(2);
            qmp_.execute("quit", Json::object(), [&] {
                if (qemu_->exit_status() || Clock::now() > deadline) {
                    throw Error("quit");
                }
            });
        } catch (const Error&) {
            // QEMU already gone or not answering: stop() below settles it.
        }
        qemu_->stop(std::chrono::seconds(2));
        qemu_.reset();
        // Kept so console() and kernel_reports() still answer after the run directory goes.
        final_console_ = file_bytes(config_.run_dir + "/console.log").value_or("");
    }
    qmp_.close();
    if (own_run_dir_) {
        std::error_code ignored;
        fs::remove_all(config_.run_dir, ignored);
        config_.run_dir.clear();
        own_run_dir_ = false;
    }
    booted_ = false;
}

std::string Machine::console() const {
    if (qemu_) {
        return file_bytes(config_.run_dir + "/console.log").value_or("");
    }
    return final_console_;
}

std::vector<std::string> Machine::kernel_reports() const {
    return faultline::kernel_reports(console());
}

std::string Machine::tail_of(const std::string& path, size_t lines) const {
    std::string text = file_bytes(path).value_or("");
    size_t pos = text.size();
    while (lines-- > 0 && pos > 0) {
        size_t nl = text.rfind('\n', pos - 1);
        if (nl == std::string::npos) {
            return text;
        }
        pos = nl;
    }
    return text.substr(pos == 0 ? 0 : pos + 1);
}

}  // namespace faultline
