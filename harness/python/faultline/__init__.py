"""faultline: a deterministic QEMU + Linux guest for testing protection keys
and restartable sequences. A thin re-export of the C++ harness (_faultline)."""
from ._faultline import (  # noqa: F401
    AgentError, BootInfo, BootTimeout, CommandTimeout, ConfigError, CriticalSection, Error, Event,
    EventKind, event_kinds,
    FileMissing, kernel_reports,
    Firing, GuestPanic, Machine, MachineConfig, Mapping, Process, QemuDied, QmpClient, QmpError, RunResult,
    Timeout, qemu_command_line,
    Instruction, SweepCell, SweepConfig, SweepResult, SweptFile, Trigger, instructions_of,
    rseq_critical_sections, sweep, swept_events, symbol_address, merge_sweep_shards,
    merge_kernel_sweep_shards,
    PkEvent, pk_event_kinds,
    SweepFinding, abort_handler_of,
    Reproducer, ReproFiring, ReproOutcome, read_reproducer, prepare_replay, replay_once,
    ExploreConfig, ExploreEvent, ExploreFinding, ExploreResult, explore, merge_explore_shards,
    Upload, program_closure,
    KernelSweepCell, KernelSweepConfig, KernelSweepResult, kernel_events, kernel_sweep,
    FunctionSymbol, function_symbols, instructions_in,
)
