// A reproducer: one finding (a failing sweep cell, a minimal failing set of
// trials) as a JSON file that someone else can replay bit for bit. It names
// what the machine was made of (QEMU, kernel, initramfs: sha256 and the path
// they had), the machine's size, the program (a copy kept beside the file)
// and its arguments, how the machine was prepared before the replayed run
// (event-free baseline runs, then a snapshot), the schedule, and what the
// run did: the firings (icount, vCPU, rip) and how the program ended.
//
// Addresses in the schedule are link-time addresses in a named file (the
// program or a library), as the sweep reports them, so the file does not
// depend on where the loader put it; the expected rips are the process's
// own (the replayed run loads the files where the recorded run did).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "faultline/injection/inject.hpp"
#include "faultline/machine/agent.hpp"
#include "faultline/machine/errors.hpp"
#include "faultline/machine/files.hpp"
#include "faultline/machine/machine_config.hpp"
#include "faultline/program/closure.hpp"

namespace faultline {

constexpr int kReproducerFormat = 1;

// A file the reproducer cannot be read from or replayed with. field() names
// the JSON field ("schedule[2].addr", "program.copy"), or is empty when the
// file is not JSON at all (truncated).
class ReproducerError : public ConfigError {
public:
    ReproducerError(const std::string& path, const std::string& field, const std::string& why);
    const std::string& field() const { return field_; }

private:
    std::string field_;
};

// Which build a part of the machine was: its content, and where it was.
struct FileIdentity {
    std::string path;
    std::string sha256;
    bool operator==(const FileIdentity&) const = default;
};
FileIdentity identify(const std::string& path);

// A file the program under test needs in the guest. On the host it is
// host_path: where write_reproducer() copies it from, and where
// read_reproducer() found its copy beside the file.
struct ReproFile {
    std::string guest_path;
    std::string host_path;
    std::string sha256;
    // The replay puts it in the guest first (it was uploaded); false: the
    // initramfs has it (its identity covers it).
    bool put = true;
    unsigned mode = 0644;  // what the guest gets (uploads; the program is 0755)
    bool operator==(const ReproFile&) const = default;
};

// One schedule entry: before the hit-th execution of addr (link-time, in
// the file the guest has at `file`) fire event (a name of event_kinds(),
// its argument; none: the kind's default target); watch, when set, is a
// link-time address in the same file (an abort handler) the thread is
// watched for next.
struct ReproEntry {
    std::string file;
    uint64_t addr = 0;
    uint32_t hit = 1;
    std::string event;
    std::optional<uint64_t> arg;
    std::optional<uint64_t> watch;
    // A kernel trigger: addr is the kernel's own (vmlinux is not relocated)
    // and file is empty; counted while the program's address space is
    // current, or in every one; percpu: the per-CPU u32 read when it fires
    // and at the return (0: none).
    bool kernel = false;
    bool every_address_space = false;
    uint64_t percpu = 0;
    bool operator==(const ReproEntry&) const = default;
};

// A firing as the replayed run must repeat it. aborted: the thread went to
// the watch address next (true), back to the trigger's (false), neither
// before the program ended or no watch (unset).
struct ReproFiring {
    uint64_t icount = 0;
    int vcpu = 0;
    uint64_t rip = 0;
    std::optional<bool> aborted;
    std::string status;  // the guest's answer (Firing::status)
    // A kernel trigger's record: the IA32_PKRS its handler reported, and
    // the register and per-CPU u32 when the context came back (unset: no
    // report, no return, not read).
    std::optional<uint32_t> handler_pkrs = std::nullopt;
    std::optional<uint32_t> return_pkrs = std::nullopt;
    std::optional<uint32_t> return_percpu = std::nullopt;
    bool operator==(const ReproFiring&) const = default;
};

// How the program run ended.
struct ReproOutcome {
    int exit_code = 0;  // or the signal number when signaled
    bool signaled = false;
    bool timed_out = false;
    bool operator==(const ReproOutcome&) const = default;
    std::string text() const;  // "exited 1", "was killed by signal 11", ...
    static ReproOutcome of(const RunResult& run);
};

struct Reproducer {
    int format = kReproducerFormat;
    std::string finding;  // what failed, in words
    FileIdentity qemu, kernel, initrd;
    // What of MachineConfig changes what the guest does (paths come from
    // the replaying side and are checked by identity).
    int cpus = 2;
    int memory_mib = 256;
    std::vector<std::string> kernel_args;
    // files[0] is the program; the rest are libraries it loads at start
    // whose addresses the schedule may name.
    std::vector<ReproFile> files;
    // The other files put in the guest first: the program's other
    // libraries, data files.
    std::vector<ReproFile> uploads;
    std::vector<std::string> args;
    RunAs user = RunAs::nobody;
    // Before the replayed run: the program runs baseline_runs times without
    // events (budget baseline_budget_ms each) after the files are put in the
    // guest, then the machine is snapshotted; every replay restores it.
    uint32_t baseline_runs = 1;
    uint32_t baseline_budget_ms = 0;
    // The replayed run: held at its entry point (libraries mapped), the
    // schedule armed, budget_ms of guest time.
    uint32_t budget_ms = 0;
    std::vector<ReproEntry> schedule;
    std::vector<ReproFiring> firings;
    ReproOutcome outcome;
    bool operator==(const Reproducer&) const = default;

    // Records uploads (their content is copied by write_reproducer()).
    void take_uploads(const std::vector<Upload>& uploads);
    // Identities, cpus, memory and kernel_args of a machine config.
    void take_machine(const MachineConfig& config);
    // base with cpus, memory_mib and kernel_args set from here.
    MachineConfig machine_config(MachineConfig base) const;
    // One line per part whose identity differs from what config names
    // ("kernel: sha256 ab12... here, cd34... in the reproducer (built from
    // /path)"); empty when they all match.
    std::vector<std::string> identity_differences(const MachineConfig& config) const;
};

// Writes the reproducer into dir (made if absent) with a copy of each file
// beside it (named by base name and content hash, so reproducers of one
// program share it), and returns the path of the JSON file, named from the
// program and the schedule. FileMissing when a file to copy is absent.
std::string write_reproducer(const std::string& dir, const Reproducer& reproducer);

// Reads and checks a reproducer; files' host_path is where their copies
// are beside it. ReproducerError naming the field for a file that is not
// complete JSON, a field missing or of the wrong type or range, an unknown
// event, a schedule entry in a file the reproducer does not carry, a copy
// missing beside the file or one whose sha256 differs. With changed, a
// copy whose sha256 differs is a line there instead ("program.sha256:
// DIR/prog-ab12 has other content than the sha256 recorded"): the caller
// decides.
Reproducer read_reproducer(const std::string& path,
                           std::vector<std::string>* changed = nullptr);

}  // namespace faultline
