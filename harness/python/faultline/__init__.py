"""faultline: a deterministic QEMU + Linux guest for testing protection keys
and restartable sequences. A thin re-export of the C++ harness (_faultline)."""
from ._faultline import (  # noqa: F401
    AgentError, BootInfo, BootTimeout, CommandTimeout, ConfigError, Error, FileMissing,
    GuestPanic, Machine, MachineConfig, QemuDied, QmpError, RunResult, Timeout,
)
