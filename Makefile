# faultline top level.
#   make        set up a fresh Debian 12 machine, build everything, run the demo
#   make test   build what is missing, run the GoogleTest and pytest suites
# Builds land in build/ (never committed); downloads and ccache output in
# ~/.cache/faultline so a fresh clone on the same machine rebuilds fast.

BUILD := $(CURDIR)/build
PYTHON := /usr/bin/python3
CACHE := $(or $(FAULTLINE_CACHE),$(HOME)/.cache/faultline)
CLI := $(BUILD)/bin/faultline
FIRMWARE := $(BUILD)/firmware
# pytest-xdist workers; each test owns its own QEMU (one host core each).
PYTEST_WORKERS ?= 2

.PHONY: all deps build qemu kernel kernel-debug firmware harness models demo test gtest pytest \
	fuzz bench selftests-sweep clean

all: build demo

deps:
	@./mk/deps.sh

build: deps qemu kernel firmware models harness

qemu: deps
	./qemu-patches/build.sh $(BUILD)/qemu

# KERNEL_PATCHES="a.patch b.patch": a kernel under test, the user's patches
# on top of the series (guest-kernel/build.sh).
kernel: deps
	KERNEL_PATCHES="$(KERNEL_PATCHES)" ./guest-kernel/build.sh $(BUILD)/linux

# KASAN, lockdep and friends, for the robustness fuzz (pytests/test_fuzz.py).
kernel-debug: deps
	./guest-kernel/build.sh $(BUILD)/linux-debug debug

# QEMU looks up its firmware with -L: point one directory at Debian's images
# (pvh.bin enters a vmlinux, linuxboot_dma.bin a bzImage).
firmware: deps
	@mkdir -p $(FIRMWARE)
	@ln -sf /usr/share/seabios/bios-microvm.bin $(FIRMWARE)/bios-microvm.bin
	@ln -sf /usr/share/qemu/pvh.bin $(FIRMWARE)/pvh.bin
	@ln -sf /usr/share/qemu/linuxboot_dma.bin $(FIRMWARE)/linuxboot_dma.bin

# The C++ layers compile through the ccache QEMU and the kernel use; paths
# relative to the checkout and the build directory left out of the hash
# (it is only the debug info's), so another clone hits it too.
CCACHE_ENV := CCACHE_DIR=$(CACHE)/ccache CCACHE_BASEDIR=$(CURDIR) CCACHE_NOHASHDIR=1
CMAKE := $(CCACHE_ENV) cmake -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DCMAKE_CXX_COMPILER_LAUNCHER=ccache
NINJA := $(CCACHE_ENV) ninja

harness: deps
	@$(CMAKE) -S harness -B $(BUILD)/harness -DPython3_EXECUTABLE=$(PYTHON) \
	    -DFAULTLINE_BUILD_DIR=$(BUILD) > /dev/null
	@$(NINJA) -C $(BUILD)/harness

# The SystemC reference models (models/README.md).
models: deps
	@$(CMAKE) -S models -B $(BUILD)/models > /dev/null
	@$(NINJA) -C $(BUILD)/models

# The main job: the every-instruction sweep of the built-in rseq program,
# as a table here, JSON and a picture (open build/sweep.html).
demo: build
	$(CLI) sweep --json $(BUILD)/sweep.json --html $(BUILD)/sweep.html
	@echo "faultline: wrote $(BUILD)/sweep.json and $(BUILD)/sweep.html"

test: build kernel-debug gtest pytest

gtest: build
	cd $(BUILD)/harness && ctest --output-on-failure --no-tests=error
	cd $(BUILD)/models && ctest --output-on-failure --no-tests=error

# Any non-zero pytest status fails, including 5 (no tests collected); the 25
# slowest tests are listed last, which is where make test spends its time.
# Tests marked xdist_group share a worker, so a module fixture they share
# (a whole upstream suite's run) runs once, not once a worker.
pytest: build kernel-debug
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -p no:cacheprovider --durations=25 pytests

# The robustness fuzz at ten times the calls make test makes.
FUZZ_CALLS ?= 1000000
fuzz: build kernel-debug
	FAULTLINE_FUZZ_CALLS=$(FUZZ_CALLS) $(PYTHON) -m pytest -p no:cacheprovider pytests/test_fuzz.py

bench: build
	$(PYTHON) bench/boot.py

# The upstream rseq selftests swept over their own critical sections.
selftests-sweep: build
	$(PYTHON) bench/selftests_sweep.py

clean:
	rm -rf $(BUILD)
