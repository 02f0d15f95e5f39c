"""The sandbox holds: student code runs in its own process, within limits, and only data comes back."""

import os
import time

import pytest

from grader.sandbox import (
    AdapterMissing,
    BadResult,
    CallTimedOut,
    Limits,
    MemoryLimitExceeded,
    NotImplementedBySubmission,
    Sandbox,
    StaleHandle,
    SubmissionExited,
    SubmissionImportError,
    SubmissionRaised,
    WorkerDied,
)

FAST = Limits(call_timeout_s=3, memory_bytes=600 << 20, startup_timeout_s=30)

SOURCE = '''
import os, subprocess, sys, time

def add(a, b):
    return a + b

def hang():
    while True:
        pass

def nap():
    time.sleep(3600)

def hard_exit():
    os._exit(0)

def soft_exit():
    sys.exit(0)

def interrupt():
    raise KeyboardInterrupt

def fail(x):
    return helper(x)

def helper(x):
    raise ValueError(f"bad input {x}")

def todo():
    raise NotImplementedError

class AlwaysEqual:
    def __eq__(self, other):
        return True

def liar():
    return AlwaysEqual()

def importer(name):
    import importlib
    try:
        importlib.import_module(name)
        return "imported"
    except ImportError as exc:
        return f"ImportError: {exc}"

def hoard():
    kept = []
    while True:
        kept.append(bytearray(32 << 20))

def huge_array():
    import numpy as np
    return np.ones(10**11)

def disturb():
    os.chdir("/")
    os.environ["INJECTED"] = "1"
    sys.path.insert(0, "/tmp")
    return "done"

def state():
    return {"cwd": os.getcwd(), "injected": os.environ.get("INJECTED"), "path0": sys.path[0],
            "path": sys.path, "env": sorted(os.environ)}

def noisy():
    print("x" * 200_000)
    print("\\x1b[2J\\x1b[31mred text\\x1b[0m and a clear-screen")
    raise RuntimeError("after printing")

def spawn():
    return subprocess.Popen(["sleep", "600"]).pid

def write_file():
    with open("scratch.txt", "w") as f:
        f.write("written in the sandbox")
    return os.path.abspath("scratch.txt")

class Model:
    def __init__(self, scale):
        self.scale = scale

def make_model(scale):
    return Model(scale)

def apply_model(model, x):
    return model.scale * x
'''


@pytest.fixture
def box(demo_package):
    with Sandbox(demo_package(SOURCE), "demo", FAST) as sandbox:
        yield sandbox


def test_plain_results_come_back(box):
    assert box.call("add", (2, 3)) == 5
    assert box.call("add", ([1], [2])) == [1, 2]


def test_a_hanging_call_times_out_and_the_next_call_gets_a_fresh_worker(box):
    start = time.monotonic()
    with pytest.raises(CallTimedOut, match=r"adapters.hang\(\) did not finish within its time limit of 3 s"):
        box.call("hang")
    assert time.monotonic() - start < 10
    box.begin_test()
    with pytest.raises(CallTimedOut):
        box.call("nap", timeout=1)
    box.begin_test()
    assert box.call("add", (1, 1)) == 2


def test_after_a_fatal_failure_later_calls_in_the_same_test_fail_at_once(box):
    with pytest.raises(CallTimedOut):
        box.call("hang", timeout=1)
    start = time.monotonic()
    with pytest.raises(CallTimedOut, match="not run again"):
        box.call("add", (1, 1))
    assert time.monotonic() - start < 0.5


def test_os_exit_scores_as_a_dead_worker(box):
    with pytest.raises(WorkerDied, match="exit status 0"):
        box.call("hard_exit")
    box.begin_test()
    assert box.call("add", (2, 2)) == 4


@pytest.mark.parametrize("function, name", [("soft_exit", "SystemExit"), ("interrupt", "KeyboardInterrupt")])
def test_sys_exit_and_interrupts_fail_the_call(box, function, name):
    with pytest.raises(SubmissionExited, match=name):
        box.call(function)
    assert box.call("add", (2, 2)) == 4  # the worker caught it and lives on


def test_exceptions_carry_the_students_traceback_with_short_paths(box):
    with pytest.raises(SubmissionRaised) as info:
        box.call("fail", (7,))
    message = str(info.value)
    assert "raised ValueError: bad input 7" in message
    assert 'File "demo/adapters.py"' in message and "in helper" in message
    assert "worker.py" not in message and "/tmp/" not in message


def test_an_object_whose_eq_is_always_true_cannot_come_back(box):
    with pytest.raises(BadResult, match="AlwaysEqual"):
        box.call("liar")


@pytest.mark.parametrize("module", ["grader", "grader.checks", "solutions", "solutions.ml_qa", "specs", "tests"])
def test_the_worker_cannot_import_the_grader_or_the_reference(box, module):
    assert box.call("importer", (module,)).startswith("ImportError")


def test_the_worker_sees_only_the_submission_stdlib_and_site_packages(box):
    state = box.call("state")
    repo = str(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert state["path0"].endswith("/submission")
    assert not any(p == repo or p.startswith(repo + "/grader") for p in state["path"])
    assert box.call("importer", ("numpy",)) == "imported"


def test_the_environment_is_scrubbed(demo_package, monkeypatch):
    monkeypatch.setenv("INSTRUCTOR_SECRET", "answer-key-token")
    with Sandbox(demo_package(SOURCE), "demo", FAST) as sandbox:
        env = sandbox.call("state")["env"]
    assert "INSTRUCTOR_SECRET" not in env and "HOME" in env


def test_a_memory_bomb_is_stopped_by_the_limit(box):
    with pytest.raises(MemoryLimitExceeded, match="limit of 0.6 GiB"):
        box.call("hoard", timeout=60)
    box.begin_test()
    with pytest.raises(MemoryLimitExceeded):
        box.call("huge_array", timeout=60)  # refused by the address-space limit at once
    box.begin_test()
    assert box.call("add", (1, 2)) == 3


def test_not_implemented_and_missing_functions_say_so(box):
    with pytest.raises(NotImplementedBySubmission, match=r"adapters.todo\(\) is not implemented yet"):
        box.call("todo")
    with pytest.raises(AdapterMissing, match="defines no function 'nonexistent'"):
        box.call("nonexistent")


def test_a_syntax_error_is_reported_with_its_line(demo_package):
    with Sandbox(demo_package("def add(a, b)\n    return a + b\n"), "demo", FAST) as sandbox:
        with pytest.raises(SubmissionImportError, match=r"(?s)importing demo/adapters.py failed.*line 1.*SyntaxError"):
            sandbox.call("add", (1, 2))


def test_changes_to_cwd_environment_and_path_do_not_carry_over(box):
    before = box.call("state")
    assert box.call("disturb") == "done"
    after = box.call("state")
    assert after["cwd"] == before["cwd"] and after["injected"] is None and after["path0"] == before["path0"]


def test_printed_output_is_captured_cleaned_and_shortened(box):
    with pytest.raises(SubmissionRaised) as info:
        box.call("noisy")
    message = str(info.value)
    assert "red text" in message and "\x1b" not in message
    assert len(message) < 10_000


def test_processes_started_by_the_submission_are_killed(demo_package):
    sandbox = Sandbox(demo_package(SOURCE), "demo", FAST)
    pid = sandbox.call("spawn")
    assert running(pid)
    sandbox.close()
    time.sleep(0.2)
    assert not running(pid)


def running(pid: int) -> bool:
    """Alive and not a zombie (where init is slow to reap, killed children linger as zombies)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_submission_works_on_a_copy(demo_package):
    folder = demo_package(SOURCE)
    with Sandbox(folder, "demo", FAST) as sandbox:
        written = sandbox.call("write_file")
    assert not (folder / "scratch.txt").exists() and not written.startswith(str(folder))


def test_handles_keep_objects_in_the_worker_until_it_restarts(box):
    model = box.call("make_model", (3,), keep=True)
    assert "Model" in repr(model)
    assert box.call("apply_model", (model, 5)) == 15
    with pytest.raises(CallTimedOut):
        box.call("hang", timeout=1)
    box.begin_test()
    with pytest.raises(StaleHandle, match="worker was restarted"):
        box.call("apply_model", (model, 5))


def test_hash_seed_is_fixed_so_set_order_is_reproducible(demo_package):
    source = "def order():\n    return list({'alpha', 'beta', 'gamma', 'delta', 'epsilon'})\n"
    orders = []
    for _ in range(2):
        with Sandbox(demo_package(source, name=f"demo{len(orders)}"), f"demo{len(orders)}", FAST) as sandbox:
            orders.append(sandbox.call("order"))
    assert orders[0] == orders[1]


FORKS = '''
import subprocess

def spawn_many(n):
    children = []
    try:
        for _ in range(n):
            children.append(subprocess.Popen(["sleep", "600"]))
    finally:
        count = len(children)
        for child in children:
            child.kill()
            child.wait()
    return count
'''


def test_the_number_of_processes_is_limited(demo_package):
    limits = Limits(call_timeout_s=20, memory_bytes=2 << 30, processes=24)
    with Sandbox(demo_package(FORKS), "demo", limits) as sandbox:
        if not sandbox.limits_processes:
            pytest.skip(f"this machine gives the sandbox no process limit: {sandbox.isolation}")
        assert sandbox.call("spawn_many", (10,)) == 10
        with pytest.raises(SubmissionRaised, match="Resource temporarily unavailable"):
            sandbox.call("spawn_many", (100,))
