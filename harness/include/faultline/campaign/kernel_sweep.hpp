// The kernel sweep: for every instruction of the named kernel functions
// (with what the compiler inlined into them) and each event that can meet
// kernel code (an irq through the local APIC, an NMI, a preemption), fire
// the event before that instruction while a program runs in the guest, and
// judge what QEMU recorded around it by models::PksInterruptRule: the
// handler runs with the default IA32_PKRS, the interrupted context gets its
// own back (register and the kernel's per-CPU cache agreeing), and the
// kernel reports nothing. The values come from QEMU's records (the
// register when the event came and at the return, the cache read from
// guest memory then); only the handler's own register is the guest's
// report, read with RDMSR.
//
// Every program run starts from a snapshot taken after the baseline, with
// the program spawned and held at its entry, and kernel triggers armed: at
// the hit-th execution of the instruction while the program's address space
// is current (or, with every_address_space, in any). A run takes the trials
// of a run group (kRowsPerRunGroup rows) event by event, each armed when
// the one before fired, so one call of a function meets an event at each of
// its instructions in turn. The first trial of a run meets its instruction
// as it would alone, and each after it meets it as alone but for the
// time the events before it took: a run takes no more trials after an
// event taken whose interrupted context did not go on, or went on on
// another vCPU or with another IA32_PKRS or cache than it had. A trial
// whose firing failed a check runs again alone, and so does every trial of
// a run whose workload failed or whose kernel reported; those lone runs
// give the cells (and the reproducers). With hit > 1 every trial runs
// alone: an entry's hit counts from the firing before it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "faultline/campaign/junit.hpp"
#include "faultline/campaign/shard.hpp"
#include "faultline/campaign/sweep.hpp"
#include "faultline/injection/inject.hpp"
#include "faultline/machine/machine.hpp"
#include "faultline/models/pks_interrupt_rule.hpp"
#include "faultline/program/closure.hpp"

namespace faultline {

// The JSON report's "report": what merge tells a kernel sweep's shards by.
inline constexpr const char* kKernelSweepReport = "faultline sweep --kernel-function";

struct KernelSweepConfig {
    std::string vmlinux;                 // the guest kernel's, with its symbols
    std::vector<std::string> functions;  // names in vmlinux's symbol table
    std::string guest_program;           // the workload, in the guest
    // Its host copy, for reproducers (the initramfs's own file when
    // program_put is false); empty: none are written.
    std::string host_program;
    bool program_put = false;            // put in the guest first, before the uploads
    std::vector<std::string> args;
    std::vector<Upload> uploads;         // put in the guest after it, before the baseline
    RunAs user = RunAs::nobody;
    std::vector<std::string> events = kernel_event_names();
    uint32_t hit = 1;
    // Count executions in every address space, not only while the
    // program's is current.
    bool every_address_space = false;
    uint32_t budget_ms = 5000;
    Shard shard;  // of the run groups of instruction rows, all functions in order
    // Non-empty: a directory that gets a reproducer of each failing cell
    // (faultline replay runs it again, compared bit for bit)
    std::string repro_dir;
    // The kernel's per-CPU cache of IA32_PKRS (asm/pkrs.h); absent from a
    // kernel without PKS, whose cells then check no cache.
    std::string pkrs_cache_symbol = "pkrs_cached";
    uint32_t default_pkrs = models::kPkrsDefault;
};

struct KernelFunction {
    std::string name;
    uint64_t addr = 0;
    uint64_t size = 0;
    std::vector<Instruction> instructions;
};

struct KernelSweepPlan {
    KernelSweepConfig config;
    std::vector<KernelFunction> functions;
    std::vector<std::pair<std::string, Event>> events;
    uint64_t pkrs_cache_offset = 0;  // 0: the kernel has none
};

// Reads vmlinux and checks what the sweep needs before anything boots:
// ConfigError for a missing or symbol-less vmlinux, a name that is no
// function there (naming the nearest ones), an event that cannot fire at a
// kernel instruction. A static function defined in several files is swept
// once per definition.
KernelSweepPlan plan_kernel_sweep(const KernelSweepConfig& config);

struct KernelSweepCell {
    std::string function;
    uint64_t insn_addr = 0;
    uint64_t offset = 0;  // from the function's start
    // "function+0x1a", the name the kernel's reports and objdump give it.
    std::string where() const;
    std::string insn_text;
    std::string event;
    // The workload reached the instruction and QEMU raised the event; a
    // cell not reached has no verdict.
    bool raised = false;
    std::string guest_status;  // the guest's answer
    uint64_t fired_icount = 0;
    int vcpu = -1;
    models::PksInterruptSituation situation;  // what was observed
    models::PksInterruptVerdict verdict;       // the model's judgement of it
    std::vector<std::string> kernel_reports;   // during this trial's run
    bool program_ok = false;                   // the workload's own check passed
    std::string outcome;
    bool ok = false;
    std::string reproducer;  // its file, for a failing cell with repro_dir
};

struct KernelSweepResult {
    std::vector<KernelSweepCell> cells;  // function, instruction, event
    // What was swept on what (kernel_sweep_identity): the shards of one
    // sweep have the same, and merge refuses any other.
    nlohmann::json identity;
    Shard shard;  // of the run groups
    double trials_per_s = 0;
    size_t program_runs = 0;  // the workload's runs after the baseline
    std::vector<std::string> notes;
    // Trials of one run that failed together while each passed alone.
    std::vector<SweepFinding> findings;

    size_t reached() const;
    size_t failed() const;  // reached and not ok
    bool passed() const { return failed() == 0 && findings.empty(); }
};

// On a booted machine: puts the uploads, runs the baseline (the workload
// must pass its own check), snapshots, then the runs from the snapshot. A
// lone trial that panics the guest fails its cell; a run of several that
// does is run again a trial at a time; either way the machine boots again.
KernelSweepResult run_kernel_sweep(Machine& machine, const KernelSweepPlan& plan);

// The functions (names and addresses), events, workload, vmlinux and
// machine a sweep ran, by content (sha256s).
nlohmann::json kernel_sweep_identity(const KernelSweepPlan& plan, const MachineConfig& machine);

// What `faultline sweep --kernel-function` prints, and its --json: the
// same result gives the same bytes, no timing is in it.
std::string kernel_sweep_table(const KernelSweepResult& result,
                               const std::vector<std::string>& events);
nlohmann::json kernel_sweep_json(const KernelSweepResult& result);
// The result a kernel_sweep_json() report holds (trials_per_s 0). Throws
// ConfigError, or nlohmann::json's errors for a field missing or of the
// wrong type.
KernelSweepResult kernel_sweep_from_json(const nlohmann::json& report);
// --html: instructions down, events across, each cell coloured by verdict
// with what QEMU recorded as its tooltip.
std::string kernel_sweep_html(const KernelSweepResult& result, const std::string& title);
// --junit: a case a cell (not reached: skipped, without a verdict).
std::vector<JunitCase> kernel_sweep_junit_cases(const KernelSweepResult& result);

}  // namespace faultline
