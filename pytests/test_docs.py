"""The doc test: every example in README.md and docs/*.md runs as a user
would run it, from a directory outside the checkout, and prints what the
page shows. The block conventions are in pytests/README.md."""
import contextlib
import os
import pathlib
import pty
import re
import select
import signal
import subprocess
import termios
import time

import pytest

from conftest import BUILD, ROOT, kernel_under_test_lock

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# The pages name the checkout and its build this way; a reader puts their own path there.
PLACEHOLDER = "/path/to/faultline"
FENCE = re.compile(r"^```(\S*)\n(.*?)^```$", re.M | re.S)
FILE_NAME = re.compile(r"^(?://|#) ([\w.+-]+\.(?:c|cpp|h|py|patch))$")
# A page that builds a kernel under test says so; the build directory is the
# one the other tests use (test_conformance.py), never built by two at once.
KERNEL_UNDER_TEST = re.compile(r"^<!-- doc test: kernel under test ([\w-]+) -->$", re.M)
RUN_LANGUAGES = {"console", "c", "cpp", "python"}
# Timings, on both sides: "0.93 s", "2.1 ms", "790.0 trials/s", "(3.2 s)",
# "ready_s":0.93, "trials_per_s":790.0.
TIMINGS = [
    (re.compile(r'"(\w+_s)":( ?)[0-9.e+-]+'), r'"\1":\2<time>'),
    (re.compile(r"\b\d+(?:\.\d+)?(?= ?(?:s|ms|min|trials/s|runs/s|replays/s)\b)"), "<time>"),
]
COMMAND_TIMEOUT_S = 1200


def blocks(page):
    """(language, text, line number) of each fenced block of a page."""
    text = page.read_text()
    for m in FENCE.finditer(text):
        yield m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1


def console_steps(text):
    """(command, expected output lines) of a console block: `$ ` lines run,
    a line ending in a backslash continues the command."""
    steps = []
    lines = text.splitlines()
    k = 0
    while k < len(lines):
        if not lines[k].startswith("$ "):
            raise ValueError(f"output before any command: {lines[k]!r}")
        command = lines[k][2:]
        while command.endswith("\\"):
            k += 1
            command += "\n" + lines[k]
        k += 1
        expected = []
        while k < len(lines) and not lines[k].startswith("$ "):
            expected.append(lines[k])
            k += 1
        steps.append((command, expected))
    return steps


def masked(text):
    for pattern, replacement in TIMINGS:
        text = pattern.sub(replacement, text)
    return text


def output_matches(expected_lines, actual):
    """Doctest's ELLIPSIS: a line `...` stands for any lines (none too),
    `...` inside a line for any text in it; timings masked on both sides,
    trailing blanks ignored."""
    pattern = ""
    for line in expected_lines:
        if line == "...":
            pattern += r"(?:.*\n)*?"
        else:
            pattern += ".*".join(re.escape(part) for part in masked(line.rstrip()).split("..."))
            pattern += r"\n"
    # Trailing blanks (a table's padding) are not shown.
    actual = "".join(line.rstrip() + "\n" for line in masked(actual).splitlines())
    return re.fullmatch(pattern, actual) is not None


class Shell:
    """One bash for a page, on a terminal as a user's is (programs' output
    line-buffered, stdout and stderr interleaved as written), so exports,
    cd and background jobs carry from one command to the next."""
    MARK = "__faultline_doc_test_done__"

    def __init__(self, cwd, env):
        self.master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.ONLCR  # "\n" stays "\n"
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.bash = subprocess.Popen(["bash", "--noprofile", "--norc"], stdin=subprocess.PIPE,
                                     stdout=slave, stderr=slave, cwd=cwd, env=env,
                                     start_new_session=True)
        os.close(slave)
        self.bash.stdin.write(b"__doc_status=0\n")

    def run(self, command):
        """What the command printed (its input is /dev/null). `$?` is the
        previous command's status, as in a terminal."""
        self.bash.stdin.write(f"(exit $__doc_status)\n{{ {command}\n}} </dev/null\n__doc_status=$?\n"
                              f"printf '\\n{self.MARK}\\n'\n".encode())
        self.bash.stdin.flush()
        out = b""
        deadline = time.monotonic() + COMMAND_TIMEOUT_S
        end = ("\n" + self.MARK + "\n").encode()
        while not out.endswith(end):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                raise TimeoutError(f"{command!r} still runs after {COMMAND_TIMEOUT_S} s")
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # bash is gone
                chunk = b""
            if not chunk:
                raise RuntimeError(f"the shell ended during {command!r}: {out.decode()}")
            out += chunk
        return out[:-len(end)].decode(errors="replace")

    def close(self):
        try:
            os.killpg(self.bash.pid, signal.SIGKILL)  # with any background job of the page
        except ProcessLookupError:
            pass
        self.bash.wait()
        os.close(self.master)


def user_environment(page):
    """The environment of a user who followed the README's set-up (the
    README itself starts before it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FAULTLINE_BUILD")}
    path = [p for p in env.get("PATH", "").split(":") if p and p != str(BUILD / "bin")]
    if page.name != "README.md" or page.parent != ROOT:
        path.insert(0, str(BUILD / "bin"))
        env["PYTHONPATH"] = str(BUILD / "python")
    env["PATH"] = ":".join(path)
    return env


def in_our_paths(text):
    """The page's text with the checkout's and the build's real paths."""
    return text.replace(PLACEHOLDER + "/build", str(BUILD)).replace(PLACEHOLDER, str(ROOT))


def in_page_paths(text, workdir):
    for real, shown in ((str(workdir), "."), (str(BUILD), PLACEHOLDER + "/build"),
                        (str(ROOT), PLACEHOLDER)):
        text = text.replace(real, shown)
    return text


def page_id(page):
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_example_of_the_page_runs_and_prints_what_it_shows(page, tmp_path):
    shell = Shell(tmp_path, user_environment(page))
    with contextlib.ExitStack() as held:
        # In one order everywhere, so two pages never wait on each other.
        for name in sorted(set(KERNEL_UNDER_TEST.findall(page.read_text()))):
            held.enter_context(kernel_under_test_lock(name))
        run_blocks(page, shell, tmp_path)


def run_blocks(page, shell, tmp_path):
    try:
        for language, text, line in blocks(page):
            where = f"{page_id(page)}:{line}"
            if language not in RUN_LANGUAGES:
                # A diagram or a table; a command must be in a console block.
                assert not any(l.startswith("$ ") for l in text.splitlines()), \
                    f"{where}: a command outside a console block"
                continue
            first = text.splitlines()[0] if text else ""
            name = FILE_NAME.match(first)
            if name:
                (tmp_path / name.group(1)).write_text(in_our_paths(text))
            elif language == "python":
                script = tmp_path / f"block-{line}.py"
                script.write_text(in_our_paths(text))
                out = shell.run(f"/usr/bin/python3 {script.name}; echo \"exit $?\"")
                assert out.endswith("exit 0\n"), f"{where}: the Python block failed:\n{out}"
            elif language == "console":
                for command, expected in console_steps(text):
                    out = in_page_paths(shell.run(in_our_paths(command)), tmp_path)
                    assert output_matches(expected, out), (
                        f"{where}: $ {command}\nshown:\n" + "\n".join(expected) +
                        f"\nprinted:\n{out}")
            else:
                pytest.fail(f"{where}: a {language} block needs a first line naming its file")
    finally:
        shell.close()


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_make_target_the_page_names_exists(page):
    targets = set(re.findall(r"`make ([a-z][\w-]*)", page.read_text()))
    for target in sorted(targets):
        p = subprocess.run(["make", "-n", "-C", str(ROOT), target], capture_output=True,
                           text=True)
        assert "No rule to make target" not in p.stderr, f"{page_id(page)}: make {target}"
