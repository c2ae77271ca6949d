import faultline


def test_boot_reports_the_guest(boot_info):
    assert boot_info.cpus == 2
    assert boot_info.kernel_release.startswith("6.12")
    assert boot_info.qemu_version == "10.0.2"
    assert boot_info.icount_at_ready > 0
    assert boot_info.ready_s > 0


def test_two_boots_reach_ready_at_the_same_instruction(config):
    counts = []
    for _ in range(2):
        with faultline.Machine(config) as m:
            counts.append(m.boot().icount_at_ready)
    assert counts[0] == counts[1]


def test_same_program_after_same_boot_takes_the_same_instructions(config):
    results = []
    for _ in range(2):
        with faultline.Machine(config) as m:
            m.boot()
            r = m.run("/bin/rseq-counter", ["2", "3000"])
            results.append((r.exit_code, r.stdout, r.icount, m.icount()))
    assert results[0] == results[1]


def test_one_cpu_guest(config):
    config.cpus = 1
    with faultline.Machine(config) as m:
        assert m.boot().cpus == 1
        r = m.run("/bin/rseq-counter", ["1", "1000"])
        assert r.exit_code == 0, r.stdout
