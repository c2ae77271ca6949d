// _faultline: pybind11 bindings of the C++ harness. The Python package
// `faultline` re-exports this module; all behaviour lives in C++.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "faultline/campaign/explore.hpp"
#include "faultline/campaign/kernel_sweep.hpp"
#include "faultline/campaign/merge.hpp"
#include "faultline/campaign/replay.hpp"
#include "faultline/campaign/reproducer.hpp"
#include "faultline/campaign/sweep.hpp"
#include "faultline/campaign/sweep_report.hpp"
#include "faultline/injection/trace.hpp"
#include "faultline/machine/console.hpp"
#include "faultline/machine/errors.hpp"
#include "faultline/machine/files.hpp"
#include "faultline/machine/machine.hpp"
#include "faultline/machine/qemu_command_line.hpp"
#include "faultline/program/elf.hpp"

namespace py = pybind11;
using namespace faultline;

namespace {

// Python exception classes, in the C++ hierarchy's shape. Evidence the C++
// exception carries (path, console tail, exit status) becomes attributes.
struct PyErrors {
    py::object error, config, file_missing, guest_panic, timeout, boot_timeout, command_timeout,
        qemu_died, qmp, agent;
};

py::object make_class(py::module_& m, const char* name, py::handle base, const char* doc) {
    py::object cls = py::reinterpret_steal<py::object>(
        PyErr_NewExceptionWithDoc((std::string("faultline.") + name).c_str(), doc, base.ptr(),
                                  nullptr));
    m.attr(name) = cls;
    return cls;
}

// The machine's interrupt check: a signal Python has a handler for (Ctrl-C)
// ends the wait with that handler's exception, KeyboardInterrupt for SIGINT.
// Only the main thread runs handlers; elsewhere this finds nothing.
void check_python_signals() {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
        throw py::error_already_set();
    }
}

// run, start and spawn as Python sees them: run_as_root=True for RunAs::root.
template <typename Result>
auto as_user(Result (Machine::*method)(const std::string&, const std::vector<std::string>&,
                                       uint32_t, RunAs)) {
    return [method](Machine& self, const std::string& program,
                    const std::vector<std::string>& args, uint32_t budget_ms, bool run_as_root) {
        return (self.*method)(program, args, budget_ms, run_as_root ? RunAs::root : RunAs::nobody);
    };
}

// What SweepConfig and ExploreConfig share: the program, its arguments,
// the events, and what a run may take; shard_doc says what a shard splits.
template <typename Config>
py::class_<Config> bind_program_config(py::module_& m, const char* name, const char* shard_doc) {
    return py::class_<Config>(m, name)
        .def(py::init([](const std::string& host_binary, const std::string& guest_program,
                         const std::vector<std::string>& args) {
                 Config c;
                 c.host_binary = host_binary;
                 c.guest_program = guest_program;
                 c.args = args;
                 return c;
             }),
             py::arg("host_binary"), py::arg("guest_program"),
             py::arg("args") = std::vector<std::string>{})
        .def_readwrite("host_binary", &Config::host_binary)
        .def_readwrite("guest_program", &Config::guest_program)
        .def_readwrite("args", &Config::args)
        .def_readwrite("events", &Config::events)
        .def_readwrite("signo", &Config::signo)
        .def_readwrite("budget_ms", &Config::budget_ms)
        .def_property(
            "shard", [](const Config& c) { return c.shard.text(); },
            [](Config& c, const std::string& text) { c.shard = parse_shard(text); },
            shard_doc)
        .def_readwrite("repro_dir", &Config::repro_dir)
        .def_readwrite("uploads", &Config::uploads);
}

// A program's library closure (program/closure.hpp).
void bind_closure(py::module_& m) {
    py::class_<Upload>(m, "Upload")
        .def(py::init([](const std::string& host_path, const std::string& guest_path,
                         unsigned mode) { return Upload{host_path, guest_path, mode}; }),
             py::arg("host_path"), py::arg("guest_path"), py::arg("mode") = 0644)
        .def_readwrite("host_path", &Upload::host_path)
        .def_readwrite("guest_path", &Upload::guest_path)
        .def_readwrite("mode", &Upload::mode)
        .def("__eq__", [](const Upload& a, const Upload& b) { return a == b; })
        .def("__repr__", [](const Upload& u) {
            return "<Upload " + u.host_path + " -> " + u.guest_path + ">";
        });
    m.def(
        "program_closure",
        [](const std::string& program, const std::string& guest_program,
           const std::vector<std::string>& libraries, const std::string& initrd) {
            ClosureConfig config;
            config.program = program;
            config.guest_program = guest_program;
            config.libraries = libraries;
            return program_closure(config, GuestImage::of_initrd(initrd)).uploads;
        },
        py::arg("program"), py::arg("guest_program"),
        py::arg("libraries") = std::vector<std::string>{},
        py::arg("initrd") = MachineConfig::defaults().initrd,
        "What to put in the guest for a host program at guest_program: the program and "
        "each library it needs that the initramfs lacks, where the guest's loader finds it "
        "(Upload: host_path, guest_path, mode). ConfigError for a library the host lacks "
        "or a file that is not an x86_64 ELF file.");
}

void raise(const py::object& cls, const Error& e, py::dict attrs = {}) {
    py::object instance = cls(e.what());
    for (auto item : attrs) {
        instance.attr(item.first) = item.second;
    }
    PyErr_SetObject(cls.ptr(), instance.ptr());
}

}  // namespace

// Reproducer files and their replay (reproducer.hpp, replay.hpp).
static void bind_reproducers(py::module_& m) {
    auto release = py::call_guard<py::gil_scoped_release>();
    py::class_<ReproFiring>(m, "ReproFiring")
        .def_readonly("icount", &ReproFiring::icount)
        .def_readonly("vcpu", &ReproFiring::vcpu)
        .def_readonly("rip", &ReproFiring::rip)
        .def_readonly("aborted", &ReproFiring::aborted)
        .def_readonly("status", &ReproFiring::status)
        .def("__eq__", [](const ReproFiring& a, const ReproFiring& b) { return a == b; })
        .def("__repr__", [](const ReproFiring& f) {
            return "<ReproFiring icount=" + std::to_string(f.icount) + " vcpu=" +
                   std::to_string(f.vcpu) + " rip=" + std::to_string(f.rip) + ">";
        });
    py::class_<ReproOutcome>(m, "ReproOutcome")
        .def_readonly("exit_code", &ReproOutcome::exit_code)
        .def_readonly("signaled", &ReproOutcome::signaled)
        .def_readonly("timed_out", &ReproOutcome::timed_out)
        .def("text", &ReproOutcome::text);
    py::class_<Reproducer>(m, "Reproducer")
        .def_readonly("finding", &Reproducer::finding)
        .def_readonly("args", &Reproducer::args)
        .def_readonly("budget_ms", &Reproducer::budget_ms)
        .def_readonly("firings", &Reproducer::firings)
        .def_readonly("outcome", &Reproducer::outcome)
        .def("machine_config", &Reproducer::machine_config, py::arg("base"))
        .def("identity_differences", &Reproducer::identity_differences, py::arg("config"));
    m.def("read_reproducer", [](const std::string& path) { return read_reproducer(path); },
          py::arg("path"),
          "Reads and checks a reproducer file; ConfigError naming the bad field.");
    m.def("prepare_replay", &prepare_replay, release, py::arg("machine"), py::arg("reproducer"),
          "On a booted machine: puts the reproducer's files in, runs its baseline, snapshots.");
    m.def(
        "replay_once",
        [](Machine& machine, const Reproducer& reproducer) {
            ScheduledRun run = replay_once(machine, reproducer);
            return py::make_tuple(run.recorded(), ReproOutcome::of(run.run));
        },
        py::arg("machine"), py::arg("reproducer"),
        "Restores the snapshot and replays the schedule once: (firings, outcome).");
}

// The files faultline merge reads, read.
static std::vector<ShardReport> shard_reports(const std::vector<std::string>& paths) {
    std::vector<ShardReport> shards;
    for (const auto& path : paths) {
        std::optional<std::string> text = file_bytes(path);
        if (!text) {
            throw FileMissing("shard report", path);
        }
        shards.push_back({path, *text});
    }
    return shards;
}

// Exploration (explore.hpp): faultline explore on a machine the caller booted.
static void bind_explore(py::module_& m) {
    bind_program_config<ExploreConfig>(m, "ExploreConfig",
                                       "\"I/N\": the I-th of N near-equal parts of the runs")
        .def_readwrite("depth", &ExploreConfig::depth)
        .def_readwrite("runs", &ExploreConfig::runs)
        .def_readwrite("seed", &ExploreConfig::seed)
        .def_readwrite("max_hit", &ExploreConfig::max_hit);

    py::class_<ExploreEvent>(m, "ExploreEvent")
        .def_property_readonly("cs", [](const ExploreEvent& e) { return e.site.cs; })
        .def_property_readonly("insn_addr", [](const ExploreEvent& e) { return e.site.insn.addr; })
        .def_property_readonly("insn", [](const ExploreEvent& e) { return e.site.insn.text; })
        .def_property_readonly("in_abort_handler",
                               [](const ExploreEvent& e) { return e.site.in_abort_handler; })
        .def_readonly("hit", &ExploreEvent::hit)
        .def_readonly("event", &ExploreEvent::event)
        .def("__repr__", [](const ExploreEvent& e) {
            char addr[19];
            std::snprintf(addr, sizeof addr, "%#llx", (unsigned long long)e.site.insn.addr);
            return "<ExploreEvent " + e.event + " before " + addr + " hit " +
                   std::to_string(e.hit) + ">";
        });

    py::class_<ExploreFinding>(m, "ExploreFinding")
        .def_readonly("run", &ExploreFinding::run)
        .def_readonly("also_runs", &ExploreFinding::also_runs)
        .def_readonly("schedule", &ExploreFinding::schedule)
        .def_readonly("firings", &ExploreFinding::firings)
        .def_readonly("outcome", &ExploreFinding::outcome)
        .def_property_readonly("stdout", [](const ExploreFinding& f) { return f.output; })
        .def_readonly("tests", &ExploreFinding::tests)
        .def_readonly("reproducer", &ExploreFinding::reproducer);

    py::class_<ExploreResult>(m, "ExploreResult")
        .def_readonly("config", &ExploreResult::config)
        .def_readonly("first_run", &ExploreResult::first_run)
        .def_readonly("end_run", &ExploreResult::end_run)
        .def_readonly("failed_runs", &ExploreResult::failed_runs)
        .def_readonly("program_runs", &ExploreResult::program_runs)
        .def_readonly("runs_per_s", &ExploreResult::runs_per_s)
        .def_readonly("findings", &ExploreResult::findings)
        .def_readonly("kernel_reports", &ExploreResult::kernel_reports)
        .def_property_readonly(
            "identity", [](const ExploreResult& r) { return r.identity.dump(); },
            "What was explored on what, as JSON text: shards of one exploration have the same.")
        .def("json", &explore_json, "What `faultline explore --json` writes.")
        .def("table", &explore_table, "What `faultline explore` prints.")
        .def("junit", [](const ExploreResult& r, const std::string& suite) {
            return junit_xml(suite, explore_junit_cases(r));
        }, py::arg("suite"));
    m.def("merge_explore_shards", [](const std::vector<std::string>& paths) {
        return merge_explore_shards(shard_reports(paths));
    }, py::arg("paths"),
          "The unsharded exploration's result from the JSON reports of its shards.");

    m.def("explore", [](Machine& machine, const ExploreConfig& config) {
              ExplorePlan plan = plan_explore(config);
              py::gil_scoped_release unlocked;
              return run_explore(machine, plan);
          },
          py::arg("machine"), py::arg("config"),
          "config.runs runs of config.depth seeded events each, every failing run shrunk to\n"
          "a minimal schedule, on a booted machine where config.guest_program already is;\n"
          "ConfigError for bad input.");
}

PYBIND11_MODULE(_faultline, m) {
    bind_closure(m);
    m.doc() = "faultline harness: deterministic QEMU + Linux guest for PKU/PKS and rseq testing";

    static PyErrors errors;
    errors.error = make_class(m, "Error", PyExc_RuntimeError, "Any faultline failure.");
    errors.config = make_class(m, "ConfigError", errors.error, "Unusable configuration or call.");
    errors.file_missing = make_class(m, "FileMissing", errors.error,
                                     "A needed file is missing; .path names it.");
    errors.guest_panic = make_class(m, "GuestPanic", errors.error,
                                    "The guest kernel panicked; .console_tail shows why.");
    errors.timeout = make_class(m, "Timeout", errors.error, "The guest did not answer in time.");
    errors.boot_timeout = make_class(m, "BootTimeout", errors.timeout, "Boot did not finish.");
    errors.command_timeout =
        make_class(m, "CommandTimeout", errors.timeout, "A guest command did not finish.");
    errors.qemu_died = make_class(m, "QemuDied", errors.error,
                                  "QEMU exited; .exit_status and .stderr_tail say how.");
    errors.qmp = make_class(m, "QmpError", errors.error, "QMP refused a command.");
    errors.agent = make_class(m, "AgentError", errors.error,
                              "The guest agent refused a command, or a reply was not the agent's.");

    py::register_exception_translator([](std::exception_ptr p) {
        try {
            std::rethrow_exception(p);
        } catch (const FileMissing& e) {
            raise(errors.file_missing, e, py::dict(py::arg("path") = e.path()));
        } catch (const GuestPanic& e) {
            raise(errors.guest_panic, e, py::dict(py::arg("console_tail") = e.console_tail()));
        } catch (const QemuDied& e) {
            raise(errors.qemu_died, e,
                  py::dict(py::arg("exit_status") = e.exit_status(),
                           py::arg("stderr_tail") = e.stderr_tail()));
        } catch (const BootTimeout& e) {
            raise(errors.boot_timeout, e);
        } catch (const CommandTimeout& e) {
            raise(errors.command_timeout, e);
        } catch (const ConfigError& e) {
            raise(errors.config, e);
        } catch (const QmpError& e) {
            raise(errors.qmp, e);
        } catch (const AgentError& e) {
            raise(errors.agent, e);
        } catch (const Error& e) {
            raise(errors.error, e);
        }
    });

    py::class_<MachineConfig>(m, "MachineConfig")
        .def(py::init<>())
        .def_static("defaults", &MachineConfig::defaults,
                    "Paths of the tree `make` built (FAULTLINE_BUILD overrides).")
        .def_readwrite("qemu", &MachineConfig::qemu)
        .def_readwrite("kernel", &MachineConfig::kernel)
        .def_readwrite("initrd", &MachineConfig::initrd)
        .def_readwrite("firmware_dir", &MachineConfig::firmware_dir)
        .def_readwrite("cpus", &MachineConfig::cpus)
        .def_readwrite("memory_mib", &MachineConfig::memory_mib)
        .def_readwrite("kernel_args", &MachineConfig::kernel_args)
        .def_readwrite("precise_xinuse", &MachineConfig::precise_xinuse)
        .def_readwrite("boot_timeout_s", &MachineConfig::boot_timeout_s)
        .def_readwrite("command_timeout_s", &MachineConfig::command_timeout_s)
        .def_readwrite("run_dir", &MachineConfig::run_dir)
        .def_readwrite("boot_cache_dir", &MachineConfig::boot_cache_dir,
                       "Where boot() keeps the state at ready between processes; "
                       "empty: every boot() boots.");
    m.def("qemu_command_line", &qemu_command_line, py::arg("config"),
          "QEMU's argv for the machine config describes, stopped (-S), with qmp.sock and\n"
          "console.log in config.run_dir (which must be set).");

    py::class_<BootInfo>(m, "BootInfo")
        .def_readonly("ready_s", &BootInfo::ready_s)
        .def_readonly("icount_at_ready", &BootInfo::icount_at_ready)
        .def_readonly("cpus", &BootInfo::cpus)
        .def_readonly("kernel_release", &BootInfo::kernel_release)
        .def_readonly("qemu_version", &BootInfo::qemu_version)
        .def_readonly("from_boot_cache", &BootInfo::from_boot_cache)
        .def_readonly("boot_cache_note", &BootInfo::boot_cache_note);

    py::class_<RunResult>(m, "RunResult")
        .def_readonly("exit_code", &RunResult::exit_code)
        .def_readonly("signaled", &RunResult::signaled)
        .def_readonly("timed_out", &RunResult::timed_out)
        .def_property_readonly("stdout", [](const RunResult& r) { return r.stdout_text; })
        .def_property_readonly("stderr", [](const RunResult& r) { return r.stderr_text; })
        .def_readonly("icount", &RunResult::icount)
        .def("__repr__", [](const RunResult& r) {
            return "<RunResult exit_code=" + std::to_string(r.exit_code) +
                   (r.timed_out ? " timed_out" : r.signaled ? " signaled" : "") + " icount=" + std::to_string(r.icount) + ">";
        });

    py::class_<Mapping>(m, "Mapping")
        .def_readonly("start", &Mapping::start)
        .def_readonly("end", &Mapping::end)
        .def_readonly("offset", &Mapping::offset)
        .def_readonly("path", &Mapping::path);

    py::class_<Process>(m, "Process")
        .def_readonly("pid", &Process::pid)
        .def_readonly("cr3", &Process::cr3)
        .def_readonly("mappings", &Process::mappings)
        .def("load_bias", [](const Process& p, const std::string& host_elf,
                             const std::string& guest_path) {
                 return load_bias(host_elf, p.mappings, guest_path);
             },
             py::arg("host_elf"), py::arg("guest_path"),
             "What to add to host_elf's addresses for this process (0 unless it is "
             "position-independent); guest_path may be a base name.");

    py::class_<Trigger>(m, "Trigger")
        .def(py::init([](const Process& process, uint64_t vaddr, uint32_t hit) {
                 return Trigger{vaddr, process.cr3, hit};
             }),
             py::arg("process"), py::arg("vaddr"), py::arg("hit") = 1)
        .def_static("in_kernel",
                    [](uint64_t vaddr, const Process* process, uint32_t hit) {
                        return Trigger{vaddr, process ? process->cr3 : 0, hit, true};
                    },
                    py::arg("vaddr"), py::arg("process") = nullptr, py::arg("hit") = 1,
                    "At CPL 0: while process's address space is current, or in every one.")
        .def_readwrite("vaddr", &Trigger::vaddr)
        .def_readwrite("cr3", &Trigger::cr3)
        .def_readwrite("hit", &Trigger::hit)
        .def_readwrite("kernel", &Trigger::kernel);

    m.def("kernel_reports", &kernel_reports, py::arg("console"),
          "The lines of a guest console that open a kernel report (WARNING, BUG, Oops, KASAN...).");
    py::class_<EventKind>(m, "EventKind")
        .def_property_readonly("code", [](const EventKind& k) { return int(k.kind); })
        .def_property_readonly("name", [](const EventKind& k) { return std::string(k.name); })
        .def_property_readonly("qmp_name", [](const EventKind& k) { return std::string(k.qmp_name); })
        .def_property_readonly("takes_arg", &EventKind::takes_arg)
        .def_property_readonly("swept", &EventKind::swept)
        .def_property_readonly("fires_at_user", &EventKind::fires_at_user)
        .def_property_readonly("fires_at_kernel", &EventKind::fires_at_kernel)
        .def("sweep_arg", &EventKind::sweep_arg, py::arg("signo"),
             "The argument a sweep gives it; all ones: the default target.")
        .def("__repr__", [](const EventKind& k) { return "<EventKind " + std::string(k.name) + ">"; });
    m.def("event_kinds", &event_kinds, py::return_value_policy::reference,
          "Every event kind, from FAULTLINE_EVENTS in linux/faultline.h.");
    m.def("swept_events", &swept_event_names,
          "The event names a sweep fires (SweepConfig.events' default), from the event table.");
    m.def("kernel_events", &kernel_event_names,
          "The event names a kernel sweep fires (KernelSweepConfig.events' default).");

    py::class_<Event>(m, "Event")
        .def_static("preempt", &Event::preempt)
        .def_static("signal", &Event::signal, py::arg("signo"))
        .def_static("migrate", &Event::migrate, py::arg("cpu"))
        .def_static("migrate_away", &Event::migrate_away)
        .def_static("page_fault", &Event::page_fault, py::arg("addr"))
        .def_static("page_fault_at_trigger", &Event::page_fault_at_trigger)
        .def_static("none", &Event::none)
        .def_static("named", &Event::named, py::arg("name"), py::arg("arg") = FAULTLINE_ARG_DEFAULT,
                    "Any kind of event_kinds() by name; no arg: the default target.")
        .def_property_readonly("name", &Event::name)
        .def_readonly("arg", &Event::arg);

    py::class_<Firing>(m, "Firing")
        .def_readonly("entry", &Firing::entry)
        .def_readonly("icount", &Firing::icount)
        .def_readonly("vcpu", &Firing::vcpu)
        .def_readonly("rip", &Firing::rip)
        .def_readonly("next_rip", &Firing::next_rip)
        .def_readonly("next_icount", &Firing::next_icount)
        .def_readonly("confirmed", &Firing::confirmed)
        .def_readonly("status", &Firing::status)
        .def_readonly("pkrs", &Firing::pkrs)
        .def_readonly("interrupts_enabled", &Firing::interrupts_enabled)
        .def_readonly("nmis_blocked", &Firing::nmis_blocked)
        .def_readonly("percpu", &Firing::percpu)
        .def_readonly("handler_pkrs", &Firing::handler_pkrs)
        .def_readonly("next_vcpu", &Firing::next_vcpu)
        .def_readonly("next_pkrs", &Firing::next_pkrs)
        .def_readonly("next_percpu", &Firing::next_percpu)
        .def("__repr__", [](const Firing& f) {
            return "<Firing entry=" + std::to_string(f.entry) + " icount=" +
                   std::to_string(f.icount) + " vcpu=" + std::to_string(f.vcpu) +
                   " status=" + (f.status.empty() ? "none" : f.status) + ">";
        });

    py::class_<PkEvent>(m, "PkEvent")
        .def_property_readonly("kind", &PkEvent::name)
        .def_readonly("icount", &PkEvent::icount)
        .def_readonly("vcpu", &PkEvent::vcpu)
        .def_readonly("rip", &PkEvent::rip)
        .def_readonly("cpl", &PkEvent::cpl)
        .def_readonly("cr3", &PkEvent::cr3)
        .def_readonly("old", &PkEvent::old)
        .def_readonly("value", &PkEvent::value)
        .def_readonly("addr", &PkEvent::addr)
        .def_readonly("error_code", &PkEvent::error_code)
        .def_readonly("pkey", &PkEvent::pkey)
        .def_property_readonly("access", [](const PkEvent& e) {
            return e.is_fault() ? e.json()["access"].get<std::string>() : std::string();
        })
        .def_readonly("pkr", &PkEvent::pkr)
        .def_readonly("pkru", &PkEvent::pkru)
        .def_readonly("pkrs", &PkEvent::pkrs)
        .def("json", [](const PkEvent& e) {
                 return py::module_::import("json").attr("loads")(e.json().dump());
             },
             "The fields of its kind as a dict: a line of `faultline run --pk-trace`.")
        .def("__repr__", [](const PkEvent& e) { return "<PkEvent " + e.json().dump() + ">"; });
    m.def("pk_event_kinds", [] {
              std::vector<std::string> names;
              for (const auto& k : pk_event_kinds()) {
                  if (k.in_all) {
                      names.emplace_back(k.name);
                  }
              }
              return names;
          },
          "The protection-key event kinds Machine.trace_pk records (page_fault too, by name).");

    py::class_<CriticalSection>(m, "CriticalSection")
        .def_readonly("start", &CriticalSection::start)
        .def_readonly("post_commit", &CriticalSection::post_commit)
        .def_readonly("abort", &CriticalSection::abort)
        .def("__repr__", [](const CriticalSection& c) {
            char text[96];
            snprintf(text, sizeof(text), "<CriticalSection start=%#llx post_commit=%#llx abort=%#llx>",
                     (unsigned long long)c.start, (unsigned long long)c.post_commit,
                     (unsigned long long)c.abort);
            return std::string(text);
        });
    m.def("rseq_critical_sections", &rseq_critical_sections, py::arg("path"),
          "The rseq critical sections of a static x86_64 ELF (__rseq_cs_ptr_array).");
    m.def("symbol_address", &symbol_address, py::arg("path"), py::arg("name"),
          "The address of a defined symbol of an ELF binary.");

    py::class_<Instruction>(m, "Instruction")
        .def_readonly("addr", &Instruction::addr)
        .def_readonly("text", &Instruction::text);
    py::class_<FunctionSymbol>(m, "FunctionSymbol")
        .def_readonly("name", &FunctionSymbol::name)
        .def_readonly("addr", &FunctionSymbol::addr)
        .def_readonly("size", &FunctionSymbol::size);
    m.def("function_symbols", &function_symbols, py::arg("path"),
          "The functions of an ELF file's symbol table (vmlinux's, for a kernel sweep).");
    m.def("instructions_in", &instructions_in, py::arg("path"), py::arg("start"), py::arg("end"),
          "The instructions decoded from [start, end) of the ELF's loaded image.");
    m.def("instructions_of", &instructions_of, py::arg("path"), py::arg("cs"),
          "A critical section's instructions, start through post-commit.");
    m.def("abort_handler_of", &abort_handler_of, py::arg("path"), py::arg("cs"),
          "A critical section's abort handler, through its first unconditional jump or return.");

    py::class_<SweptFile>(m, "SweptFile")
        .def(py::init([](const std::string& host_path, const std::string& guest_path) {
                 return SweptFile{host_path, guest_path};
             }),
             py::arg("host_path"), py::arg("guest_path"))
        .def_readwrite("host_path", &SweptFile::host_path)
        .def_readwrite("guest_path", &SweptFile::guest_path);

    bind_program_config<SweepConfig>(
        m, "SweepConfig", "\"I/N\": the I-th of N near-equal parts of the instruction rows")
        .def_readwrite("libraries", &SweepConfig::libraries)
        .def_readwrite("hit", &SweepConfig::hit)
        .def_readwrite("files_put", &SweepConfig::files_put)
        .def_readwrite("rseq_signature", &SweepConfig::rseq_signature);

    py::class_<SweepFinding>(m, "SweepFinding")
        .def_readonly("cells", &SweepFinding::cells)
        .def_readonly("outcome", &SweepFinding::outcome)
        .def_readonly("tests", &SweepFinding::tests);

    py::class_<SweepCell>(m, "SweepCell")
        .def_readonly("file", &SweepCell::file)
        .def_readonly("cs", &SweepCell::cs)
        .def_readonly("insn_addr", &SweepCell::insn_addr)
        .def_readonly("insn", &SweepCell::insn_text)
        .def_readonly("event", &SweepCell::event)
        .def_readonly("raised", &SweepCell::raised)
        .def_property_readonly("reached", [](const SweepCell& c) { return c.raised; })
        .def_readonly("skipped", &SweepCell::skipped)
        .def_readonly("fired", &SweepCell::fired)
        .def_readonly("guest_status", &SweepCell::guest_status)
        .def_readonly("fired_icount", &SweepCell::fired_icount)
        .def_readonly("vcpu", &SweepCell::vcpu)
        .def_readonly("in_sequence", &SweepCell::in_sequence)
        .def_readonly("expected_abort", &SweepCell::expected_abort)
        .def_readonly("may_abort", &SweepCell::may_abort)
        .def_property_readonly("model",
                               [](const SweepCell& c) {
                                   std::vector<std::string> answers;
                                   for (const auto& v : c.model) {
                                       answers.push_back(models::to_string(v));
                                   }
                                   return answers;
                               },
                               "What models::RseqRule answers, e.g. ['aborts to 0x401b0e'].")
        .def_readonly("aborted", &SweepCell::aborted)
        .def_readonly("killed_by_sigsegv", &SweepCell::killed_by_sigsegv)
        .def_readonly("invariant_ok", &SweepCell::invariant_ok)
        .def_readonly("outcome", &SweepCell::outcome)
        .def_readonly("ok", &SweepCell::ok)
        .def_readonly("reproducer", &SweepCell::reproducer);

    py::class_<SweepResult>(m, "SweepResult")
        .def_readonly("cells", &SweepResult::cells)
        .def_readonly("trials_per_s", &SweepResult::trials_per_s)
        .def_readonly("program_runs", &SweepResult::program_runs)
        .def_readonly("notes", &SweepResult::notes)
        .def_readonly("findings", &SweepResult::findings)
        .def_readonly("kernel_reports", &SweepResult::kernel_reports)
        .def_property_readonly(
            "shard", [](const SweepResult& r) { return r.shard.text(); })
        .def_property_readonly(
            "identity", [](const SweepResult& r) { return r.identity.dump(); },
            "What was swept on what, as JSON text: shards of one sweep have the same.")
        .def("failed", &SweepResult::failed)
        .def("reached", &SweepResult::reached)
        .def("json", &sweep_json)
        .def("html", &sweep_html, py::arg("title"))
        .def("junit", [](const SweepResult& r, const std::string& suite) {
            return junit_xml(suite, sweep_junit_cases(r));
        }, py::arg("suite"));

    m.def("merge_sweep_shards", [](const std::vector<std::string>& paths) {
        return merge_sweep_shards(shard_reports(paths));
    }, py::arg("paths"),
          "The unsharded sweep's result from the JSON reports of its shards (faultline merge).");

    using Args = std::vector<std::string>;
    auto release = py::call_guard<py::gil_scoped_release>();

    // The harness's QMP client, for tests and tools that drive a QEMU of
    // their own. JSON crosses as text through Python's json module.
    py::class_<QmpClient>(m, "QmpClient")
        .def(py::init<>())
        .def("connect",
             [](QmpClient& self, const std::string& socket_path, double timeout_s) {
                 py::gil_scoped_release unlocked;
                 self.connect(socket_path,
                              QmpClient::within(timeout_s, "connect " + socket_path));
             },
             py::arg("socket_path"), py::arg("timeout_s") = 10.0)
        .def("execute",
             [](QmpClient& self, const std::string& command, py::object arguments,
                double timeout_s) {
                 py::module_ json = py::module_::import("json");
                 QmpClient::Json args = arguments.is_none()
                                            ? QmpClient::Json::object()
                                            : QmpClient::Json::parse(
                                                  json.attr("dumps")(arguments).cast<std::string>());
                 QmpClient::Json reply;
                 {
                     py::gil_scoped_release unlocked;
                     reply = self.execute(command, args, QmpClient::within(timeout_s, command));
                 }
                 return json.attr("loads")(reply.dump());
             },
             py::arg("command"), py::arg("arguments") = py::none(), py::arg("timeout_s") = 30.0,
             "Runs a command; returns its 'return' value, raises QmpError on 'error'.")
        .def("close", &QmpClient::close);

    py::class_<KernelSweepConfig>(m, "KernelSweepConfig")
        .def(py::init<>())
        .def_readwrite("vmlinux", &KernelSweepConfig::vmlinux)
        .def_readwrite("functions", &KernelSweepConfig::functions)
        .def_readwrite("guest_program", &KernelSweepConfig::guest_program)
        .def_readwrite("host_program", &KernelSweepConfig::host_program)
        .def_readwrite("program_put", &KernelSweepConfig::program_put)
        .def_readwrite("repro_dir", &KernelSweepConfig::repro_dir)
        .def_readwrite("args", &KernelSweepConfig::args)
        .def_readwrite("uploads", &KernelSweepConfig::uploads)
        .def_property("run_as_root",
                      [](const KernelSweepConfig& c) { return c.user == RunAs::root; },
                      [](KernelSweepConfig& c, bool root) {
                          c.user = root ? RunAs::root : RunAs::nobody;
                      })
        .def_readwrite("events", &KernelSweepConfig::events)
        .def_readwrite("hit", &KernelSweepConfig::hit)
        .def_readwrite("every_address_space", &KernelSweepConfig::every_address_space)
        .def_readwrite("budget_ms", &KernelSweepConfig::budget_ms)
        .def_property(
            "shard", [](const KernelSweepConfig& c) { return c.shard.text(); },
            [](KernelSweepConfig& c, const std::string& text) { c.shard = parse_shard(text); },
            "\"I/N\": the I-th of N near-equal parts of the instruction rows");
    py::class_<KernelSweepCell>(m, "KernelSweepCell")
        .def_readonly("function", &KernelSweepCell::function)
        .def_readonly("insn_addr", &KernelSweepCell::insn_addr)
        .def_readonly("offset", &KernelSweepCell::offset)
        .def_property_readonly("where", &KernelSweepCell::where)
        .def_readonly("insn_text", &KernelSweepCell::insn_text)
        .def_readonly("event", &KernelSweepCell::event)
        .def_readonly("raised", &KernelSweepCell::raised)
        .def_readonly("guest_status", &KernelSweepCell::guest_status)
        .def_readonly("fired_icount", &KernelSweepCell::fired_icount)
        .def_readonly("vcpu", &KernelSweepCell::vcpu)
        .def_property_readonly("taken", [](const KernelSweepCell& c) { return c.verdict.taken; })
        .def_property_readonly("failed_checks",
                               [](const KernelSweepCell& c) {
                                   std::vector<std::string> names;
                                   for (models::PksCheck check : c.verdict.failed) {
                                       names.emplace_back(models::pks_check_name(check));
                                   }
                                   return names;
                               })
        .def_readonly("kernel_reports", &KernelSweepCell::kernel_reports)
        .def_readonly("program_ok", &KernelSweepCell::program_ok)
        .def_readonly("outcome", &KernelSweepCell::outcome)
        .def_readonly("ok", &KernelSweepCell::ok)
        .def_readonly("reproducer", &KernelSweepCell::reproducer);
    py::class_<KernelSweepResult>(m, "KernelSweepResult")
        .def_readonly("cells", &KernelSweepResult::cells)
        .def_readonly("trials_per_s", &KernelSweepResult::trials_per_s)
        .def_readonly("program_runs", &KernelSweepResult::program_runs)
        .def_readonly("notes", &KernelSweepResult::notes)
        .def_readonly("findings", &KernelSweepResult::findings)
        .def_property_readonly("reached", &KernelSweepResult::reached)
        .def_property_readonly("failed", &KernelSweepResult::failed)
        .def_property_readonly("passed", &KernelSweepResult::passed)
        .def("json", [](const KernelSweepResult& r) { return kernel_sweep_json(r).dump(); })
        .def("html", &kernel_sweep_html, py::arg("title"))
        .def("table", [](const KernelSweepResult& r, const std::vector<std::string>& events) {
                 return kernel_sweep_table(r, events);
             },
             py::arg("events"));
    m.def("merge_kernel_sweep_shards", [](const std::vector<std::string>& paths) {
        return merge_kernel_sweep_shards(shard_reports(paths));
    }, py::arg("paths"),
          "The unsharded kernel sweep's result from the JSON reports of its shards "
          "(faultline merge).");
    m.def("kernel_sweep", [](Machine& machine, const KernelSweepConfig& config) {
              KernelSweepPlan plan = plan_kernel_sweep(config);
              py::gil_scoped_release unlocked;
              return run_kernel_sweep(machine, plan);
          },
          py::arg("machine"), py::arg("config"),
          "Every instruction of config.functions x each kernel event while\n"
          "config.guest_program runs, judged by the PKS interrupt model, on a booted\n"
          "machine; ConfigError for bad input.");
    m.def("sweep", [](Machine& machine, const SweepConfig& config) {
              SweepPlan plan = plan_sweep(config);
              py::gil_scoped_release unlocked;
              return run_sweep(machine, plan);
          },
          py::arg("machine"), py::arg("config"),
          "Every instruction x event of the program's rseq critical sections, on a booted\n"
          "machine where config.guest_program already is; ConfigError for bad input.");
    const char* run_as_root_doc =
        "Programs run as nobody (uid and gid 65534) unless run_as_root is true.";
    py::class_<Machine>(m, "Machine")
        .def(py::init([](const MachineConfig* c) {
                 auto machine = std::make_unique<Machine>(c ? *c : MachineConfig::defaults());
                 machine->set_interrupt_check(check_python_signals);
                 return machine;
             }),
             py::arg("config") = nullptr,
             "Waits (boot, commands) end on Ctrl-C with KeyboardInterrupt, QEMU ended and\n"
             "the machine unusable.")
        .def("boot", &Machine::boot, release)
        .def("run", as_user(&Machine::run),
             py::arg("program"), py::arg("args") = Args{}, py::arg("budget_ms") = 0,
             py::arg("run_as_root") = false, release, run_as_root_doc)
        .def("start", as_user(&Machine::start),
             py::arg("program"), py::arg("args") = Args{}, py::arg("budget_ms") = 0,
             py::arg("run_as_root") = false, release, run_as_root_doc)
        .def("wait", &Machine::wait, release)
        .def("put", [](Machine& self, const std::string& path, py::bytes data, unsigned mode) {
                 std::string bytes = data;
                 py::gil_scoped_release unlocked;
                 self.put(path, bytes, mode);
             },
             py::arg("guest_path"), py::arg("data"), py::arg("mode") = 0755)
        .def("put_file", &Machine::put_file, py::arg("host_path"), py::arg("guest_path"),
             py::arg("mode") = 0755, release)
        .def("spawn",
             [](Machine& self, const std::string& program, const Args& args, uint32_t budget_ms,
                bool run_as_root, bool at_entry) {
                 return self.spawn(program, args, budget_ms,
                                   run_as_root ? RunAs::root : RunAs::nobody,
                                   at_entry ? Hold::program_entry : Hold::first_instruction);
             },
             py::arg("program"), py::arg("args") = Args{}, py::arg("budget_ms") = 0,
             py::arg("run_as_root") = false, py::arg("at_entry") = false, release,
             "Held before its first instruction, or with at_entry=True at the program's own "
             "entry point, its libraries loaded. Runs as nobody unless run_as_root.")
        .def("run_spawned", &Machine::run_spawned, release)
        .def("arm", [](Machine& self, const std::vector<py::tuple>& schedule) {
                 std::vector<ScheduleEntry> entries;
                 for (const auto& item : schedule) {
                     if (item.size() < 2 || item.size() > 4) {
                         throw ConfigError(
                             "a schedule entry is (Trigger, Event[, watch[, percpu]])");
                     }
                     entries.push_back({item[0].cast<Trigger>(), item[1].cast<Event>(),
                                        item.size() >= 3 ? item[2].cast<uint64_t>() : 0,
                                        item.size() == 4 ? item[3].cast<uint64_t>() : 0});
                 }
                 py::gil_scoped_release unlocked;
                 self.arm(entries);
             },
             py::arg("schedule"),
             "Arm [(Trigger, Event[, watch[, percpu]]), ...]; entries fire in order. With a\n"
             "watch address the firing also records where that thread went next: back to\n"
             "the trigger (next_rip == rip) or to watch. A kernel trigger whose event\n"
             "interrupts records the return to its instruction (next_vcpu, next_pkrs) and,\n"
             "with a percpu offset, that per-CPU u32 then and when it fired.")
        .def("disarm", &Machine::disarm, release)
        .def("firings", &Machine::firings, release)
        .def("trace_pk", [](Machine& self, const std::vector<std::string>& kinds,
                            std::optional<uint64_t> cr3) {
                 std::vector<PkEvent::Kind> chosen;
                 for (const auto& name : kinds) {
                     chosen.push_back(pk_event_kind_named(name));
                 }
                 py::gil_scoped_release unlocked;
                 self.trace_pk(chosen, cr3);
             },
             py::arg("kinds"), py::arg("cr3") = py::none(),
             "Record protection-key events of these kinds (pk_event_kinds()) from now on,\n"
             "in the address space cr3 (Process.cr3) or in all, dropping earlier ones;\n"
             "[] stops recording. Call while the guest is parked.")
        .def("pk_events", &Machine::pk_events, release,
             "The PkEvents recorded since trace_pk() or the last call, in order.")
        .def("snapshot", &Machine::snapshot, release)
        .def("restore", &Machine::restore, release)
        .def("icount", &Machine::icount, release)
        .def("pause", &Machine::pause, release)
        .def("resume", &Machine::resume, release)
        .def_property_readonly("paused", &Machine::paused)
        .def("shutdown", &Machine::shutdown, release)
        .def("console", &Machine::console)
        .def("kernel_reports", &Machine::kernel_reports)
        .def_property_readonly("config", &Machine::config)
        .def("__enter__", [](Machine& self) -> Machine& { return self; })
        .def("__exit__", [](Machine& self, py::args) { self.shutdown(); });

    bind_reproducers(m);
    bind_explore(m);
}
