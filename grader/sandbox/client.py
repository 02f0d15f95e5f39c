"""The grader's side of the sandbox: start a worker, call adapter functions in it, enforce limits.

    with Sandbox(Path("submission/gpt2"), package="gpt2") as box:
        logits = box.call("gpt2_forward", (config, state_dict, tokens), timeout=30)
        model = box.call("load_checkpoint", (path,), keep=True)    # stays in the worker
        text = box.call("generate", (model, prompt))                # handle passed back in

Every failure of the submission's code reaches the caller as a SubmissionError whose message is
written for the student. A call that hangs, exits the process, or runs out of memory kills the
worker; the next call starts a fresh one.
"""

from __future__ import annotations

import collections
import dataclasses
import errno
import fcntl
import functools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

from grader.text import clean

from . import transport
from .transport import Handle

BLOCKED_MODULES = ("grader", "solutions", "specs", "tests", "fixtures", "conftest")
SANDBOX_UID_BASE = 61_000  # uids 61000-61063 are used for workers when the grader runs as root
SANDBOX_UID_COUNT = 64
GiB = 1 << 30


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one worker may use. Per-assignment values come from the [sandbox] table of its rubric."""

    call_timeout_s: float = 60.0
    memory_bytes: int = 4 * GiB  # resident memory of the worker and everything it started
    cpu_seconds: int = 3600  # CPU time over a worker's whole life
    processes: int = 256  # tasks (processes and threads) beyond those the user already runs
    file_bytes: int = 2 * GiB  # largest file the worker may write
    open_files: int = 1024
    startup_timeout_s: float = 60.0
    address_space: bool = True  # also cap virtual memory per process (turn off for CUDA)

    @classmethod
    def from_table(cls, table: dict | None) -> "Limits":
        """Limits from a rubric's [sandbox] table, then AUTOGRADER_SANDBOX_LIMITS on top of it
        ("call_timeout_s=5,memory_gib=1": tighter limits for a test run or a busy machine)."""
        table = dict(table or {})
        for pair in filter(None, os.environ.get("AUTOGRADER_SANDBOX_LIMITS", "").split(",")):
            name, _, value = pair.partition("=")
            table[name.strip()] = float(value) if name.strip() in ("call_timeout_s", "startup_timeout_s", "memory_gib") else int(value)
        if "memory_gib" in table:
            table["memory_bytes"] = int(float(table.pop("memory_gib")) * GiB)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(table) - known
        if unknown:
            raise ValueError(f"unknown sandbox limits: {', '.join(sorted(unknown))}")
        return cls(**table)


# ---------------------------------------------------------------------------------------
# Errors: every message is addressed to the student
# ---------------------------------------------------------------------------------------


class SubmissionError(Exception):
    """The submission failed in a way that costs the test its points; str() says why."""


class SubmissionMissing(SubmissionError):
    pass


class SubmissionImportError(SubmissionError):
    pass


class AdapterMissing(SubmissionError):
    pass


class NotImplementedBySubmission(SubmissionError):
    pass


class SubmissionRaised(SubmissionError):
    pass


class SubmissionExited(SubmissionError):
    pass


class CallTimedOut(SubmissionError):
    pass


class WorkerDied(SubmissionError):
    pass


class MemoryLimitExceeded(SubmissionError):
    pass


class BadResult(SubmissionError):
    pass


class StaleHandle(SubmissionError):
    pass


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


class _OutputTail:
    """Drains a pipe in a thread and keeps its last `keep` bytes (output cannot fill memory)."""

    def __init__(self, stream, keep: int = 64 * 1024):
        self.keep = keep
        self._fd = stream.fileno()
        self.total = 0
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream):
        try:
            while True:
                chunk = stream.read1(65536)
                if not chunk:
                    break
                with self._lock:
                    self.total += len(chunk)
                    self._chunks.append(chunk)
                    self._size += len(chunk)
                    while self._size > self.keep and len(self._chunks) > 1:
                        self._size -= len(self._chunks.popleft())
        except (OSError, ValueError):
            pass
        finally:
            try:
                stream.close()
            except OSError:
                pass

    def settle(self, timeout: float = 0.2) -> None:
        """Give the drain thread a moment to read what is already in the pipe."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if not select.select([self._fd], [], [], 0)[0]:
                    return
            except (OSError, ValueError):
                return
            time.sleep(0.005)

    def since(self, mark: int, limit: int = 2000) -> str:
        """Text written after byte offset `mark`, at most its last `limit` characters."""
        self.settle()
        with self._lock:
            data = b"".join(self._chunks)
            new = min(self.total - mark, len(data))
        text = data[len(data) - new :].decode("utf-8", "replace") if new > 0 else ""
        return clean(text[-limit:], limit=limit)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def _session_members(sid: int) -> list[int]:
    """Pids whose session id is `sid`: the worker and everything it started, unless detached."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 3 and int(fields[3]) == sid:
            pids.append(int(entry))
    return pids


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rfind(b")") + 2 :][:1] in (b"Z", b"X")


def resident_bytes(pids: list[int]) -> int:
    """Resident memory of these processes together, in bytes (those that are gone count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            pass
    return total


@functools.cache
def _interpreter_usable_by(uid: int, python: str) -> bool:
    """Can an unprivileged uid start this interpreter? (Not when it lives under a 0700 /root.)"""
    try:
        result = subprocess.run(
            [python, "-I", "-c", "import json, resource, site, sysconfig"],
            user=uid, group=uid, extra_groups=[], cwd="/", env={"PATH": "/usr/bin:/bin"},
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
        )
        return result.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _claim_uid(python: str):
    """When running as root, a uid of its own for this worker, and the lock that reserves it."""
    if os.getuid() != 0 or os.environ.get("AUTOGRADER_SANDBOX_DROP_ROOT", "1") == "0":
        return None, None
    if not _interpreter_usable_by(SANDBOX_UID_BASE, python):
        return None, None
    lock_dir = Path(tempfile.gettempdir()) / "autograder-sandbox-uids"
    lock_dir.mkdir(mode=0o700, exist_ok=True)
    for uid in range(SANDBOX_UID_BASE, SANDBOX_UID_BASE + SANDBOX_UID_COUNT):
        lock = open(lock_dir / f"{uid}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return uid, lock
        except OSError:
            lock.close()
    return None, None


class _PidsCgroup:
    """A pids cgroup for one worker: caps how many tasks it may run, and lists every one of them.

    Used where the grader may create cgroups (root in a VM or container with a writable cgroup
    tree). It is the process limit that still holds when the worker cannot give up root, and it
    finds processes that left the worker's session, so they can be killed too.
    """

    def __init__(self, path: Path, max_tasks: int = 256):
        self.path = path
        self.room_needed = max_tasks // 2  # left over from a killed worker, at most

    @classmethod
    def create(cls, max_tasks: int) -> "_PidsCgroup | None":
        if os.environ.get("AUTOGRADER_SANDBOX_CGROUP", "1") == "0":
            return None
        base = cls._own_pids_cgroup()
        if base is None:
            return None
        path = base / f"autograder-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(max_tasks))
        except OSError:
            try:
                path.rmdir()
            except OSError:
                pass
            return None
        return cls(path, max_tasks)

    @staticmethod
    def _own_pids_cgroup() -> Path | None:
        try:
            lines = Path("/proc/self/cgroup").read_text().splitlines()
        except OSError:
            return None
        for line in lines:
            _, controllers, where = line.split(":", 2)
            if "pids" in controllers.split(","):
                candidate = Path("/sys/fs/cgroup/pids") / where.lstrip("/")
            elif controllers == "":
                candidate = Path("/sys/fs/cgroup") / where.lstrip("/")
                try:
                    if "pids" not in (candidate / "cgroup.subtree_control").read_text().split():
                        continue
                except OSError:
                    continue
            else:
                continue
            if (candidate / "cgroup.procs").is_file() and os.access(candidate, os.W_OK):
                return candidate
        return None

    @property
    def procs_file(self) -> str:
        return str(self.path / "cgroup.procs")

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def current(self) -> int:
        """Tasks the cgroup counts, zombies not yet reaped included (cgroup.procs leaves them out)."""
        try:
            return int((self.path / "pids.current").read_text())
        except (OSError, ValueError):
            return 0

    def kill_all(self, wait_s: float = 20.0) -> None:
        """Kill every task, and wait until most killed ones are reaped: until then they still count
        against pids.max, and the next worker could not start (after a fork bomb, that takes a while)."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:  # a fork bomb may add tasks while the first ones die
            pids = self.pids()
            if not pids and self.current() <= self.room_needed:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)

    def remove(self) -> None:
        self.kill_all()
        try:
            self.path.rmdir()
        except OSError:
            pass


def _link_or_copy(src, dst) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _kill_uid(uid: int) -> None:
    """Kill every process of `uid`, including any that left the worker's session."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _hint(name: str, message: str) -> str:
    """What to do about two failures that are about the grading machine, not the code's logic."""
    if name == "ModuleNotFoundError":
        return ("\nHint: the grader has only the course's packages installed (see the assignment's "
                "requirements); remove the import or use a package from that list.")
    if "CUDA" in message or "cuda" in message.split(":")[0]:
        return ("\nHint: the grading machine may have no GPU. Put tensors on the device of the inputs "
                "(x.device) instead of calling .cuda() or using device='cuda'.")
    return ""


# ---------------------------------------------------------------------------------------
# The sandbox
# ---------------------------------------------------------------------------------------


class Sandbox:
    """One submission folder, served by one worker process at a time."""

    def __init__(
        self,
        package_dir: Path,
        package: str,
        limits: Limits = Limits(),
        extra_env: dict[str, str] | None = None,
        python: str = sys.executable,
    ):
        self.source = Path(package_dir)
        self.package = package
        self.limits = limits
        self.extra_env = dict(extra_env or {})
        self.python = python
        self.generation = 0
        self.isolation: list[str] = []
        self._proc: subprocess.Popen | None = None
        self._broken_import: SubmissionError | None = None
        self._fatal: SubmissionError | None = None
        self._next_id = 0
        self._root = Path(tempfile.mkdtemp(prefix=f"autograder-{package}-"))
        self._uid, self._uid_lock = _claim_uid(python)
        self._cgroup = _PidsCgroup.create(limits.processes)
        self._prepare_root()
        self._finalizer = weakref.finalize(self, Sandbox._cleanup, self._root, self._uid_lock, self._cgroup)

    # Set-up ---------------------------------------------------------------------------

    def _prepare_root(self) -> None:
        root = self._root
        os.chmod(root, 0o755)
        runtime = root / "runtime"
        runtime.mkdir()
        here = Path(__file__).parent
        for name in ("worker.py", "transport.py"):
            shutil.copy(here / name, runtime / name)
        for name in ("home", "tmp", "inputs"):
            (root / name).mkdir()
        self.import_root = root / "submission"
        self.import_root.mkdir()
        self.package_dir = self.import_root / self.package
        if self.source.is_dir():
            shutil.copytree(self.source, self.package_dir, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", ".git"))
        if self._uid is not None:
            for path in (self.import_root, root / "home", root / "tmp"):
                for dirpath, dirnames, filenames in os.walk(path):
                    for name in [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]:
                        os.lchown(name, self._uid, self._uid)
            self.isolation.append(f"runs as uid {self._uid}, not root")
        else:
            self.isolation.append("runs as the grader's own user (no unprivileged uid available)")
        if self._cgroup is not None:
            self.isolation.append(f"at most {self.limits.processes} tasks (pids cgroup)")
        elif self._uid is not None or os.getuid() != 0:
            self.isolation.append(f"at most {self.limits.processes} more tasks (RLIMIT_NPROC)")
        else:
            self.isolation.append("no process limit: running as root without a writable pids cgroup")

    @property
    def limits_processes(self) -> bool:
        """Whether a process limit is in force for this sandbox's workers."""
        return self._cgroup is not None or self._uid is not None or os.getuid() != 0

    def share(self, path: Path, name: str | None = None) -> str:
        """Put a grader-made file or folder where the worker can read it; returns its path there.

        Files are hard-linked where possible (a 500 MB checkpoint costs nothing), else copied.
        Sharing the same name again returns the same path.
        """
        path = Path(path)
        target = self._root / "inputs" / (name or path.name)
        if not target.exists():
            if path.is_dir():
                shutil.copytree(path, target, copy_function=_link_or_copy)
            else:
                _link_or_copy(path, target)
        return str(target)

    def scratch(self, name: str) -> str:
        """A new empty folder the worker (and its ranks) may write to; returns its path."""
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self._root / "tmp"))
        if self._uid is not None:
            os.chown(path, self._uid, self._uid)
        return str(path)

    def _environment(self) -> dict[str, str]:
        home = str(self._root / "home")
        env = {
            "PATH": f"{os.path.dirname(self.python)}:/usr/local/bin:/usr/bin:/bin",
            "HOME": home,
            "TMPDIR": str(self._root / "tmp"),
            "USER": "student",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            "PYTHONIOENCODING": "utf-8",
            "PYTHONUNBUFFERED": "1",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": os.path.join(home, ".matplotlib"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "TORCHINDUCTOR_CACHE_DIR": os.path.join(home, ".inductor"),
            "TRITON_CACHE_DIR": os.path.join(home, ".triton"),
        }
        for name in ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            if name in os.environ:
                env[name] = os.environ[name]
        env.update(self.extra_env)
        return env

    def _start(self) -> None:
        if self._broken_import is not None:
            raise type(self._broken_import)(str(self._broken_import))
        if not self.source.is_dir():
            raise SubmissionMissing(
                f"the submission has no folder {self.package}/; put your code for this assignment in SUBMISSION/{self.package}/"
            )
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        config = {
            "request_fd": req_r,
            "response_fd": resp_w,
            "import_root": str(self.import_root),
            "package": self.package,
            "package_dir": str(self.package_dir),
            "generation": self.generation,
            "uid": self._uid,
            "gid": self._uid,
            "blocked_modules": list(BLOCKED_MODULES),
            "cgroup_procs": self._cgroup.procs_file if self._cgroup else None,
            # Landlock (on unless AUTOGRADER_SANDBOX_LANDLOCK=0) and a network namespace (on with
            # AUTOGRADER_SANDBOX_NETNS=1); see worker.py.
            "sandbox_root": str(self._root),
            "protected": [str(Path(__file__).resolve().parents[2])],  # the grader's repository
            "confine_files": os.environ.get("AUTOGRADER_SANDBOX_LANDLOCK", "1") != "0",
            "confine_network": os.environ.get("AUTOGRADER_SANDBOX_NETNS", "0") == "1",
            "limits": {
                "address_space_bytes": self.limits.memory_bytes + 4 * GiB if self.limits.address_space else None,
                "cpu_seconds": self.limits.cpu_seconds,
                "file_bytes": self.limits.file_bytes,
                "open_files": self.limits.open_files,
                "processes": self.limits.processes,
            },
        }
        config_path = self._root / "runtime" / f"config-{self.generation}.json"
        config_path.write_text(json.dumps(config))
        try:
            self._proc = subprocess.Popen(
                # -s -P: no user site-packages, no script folder on sys.path. Not -I: that implies
                # -E, which would drop PYTHONHASHSEED and PYTHONUNBUFFERED from the (already
                # scrubbed) environment that _environment() builds.
                [self.python, "-s", "-P", "-B", str(self._root / "runtime" / "worker.py"), str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(req_r, resp_w),
                cwd=str(self._root),
                env=self._environment(),
                start_new_session=True,
            )
        finally:
            os.close(req_r)
            os.close(resp_w)
        self._req_w = req_w
        self._resp_r = resp_r
        os.set_blocking(req_w, False)
        os.set_blocking(resp_r, False)
        self._stdout = _OutputTail(self._proc.stdout)
        self._stderr = _OutputTail(self._proc.stderr)
        hello = self._exchange({"op": "ping"}, self.limits.startup_timeout_s, "starting the sandbox worker")
        for line in hello.get("confinement", []) if isinstance(hello, dict) else []:
            if isinstance(line, str) and line not in self.isolation:
                self.isolation.append(line)
        # Import adapters.py now, under the start-up time limit rather than the first call's.
        # An import that hangs or kills the worker would do so again, so it is remembered.
        try:
            self._exchange({"op": "import"}, self.limits.startup_timeout_s, f"importing {self.package}/adapters.py")
        except (CallTimedOut, WorkerDied, MemoryLimitExceeded) as exc:
            self._broken_import = exc
            raise

    # Calls ----------------------------------------------------------------------------

    def call(self, function: str, args=(), kwargs=None, *, timeout: float | None = None, keep: bool = False):
        """Call adapters.<function>(*args, **kwargs) in the worker and return its plain-data result.

        With keep=True the result stays in the worker and a Handle comes back instead; pass the
        handle as an argument to later calls.
        """
        if self._fatal is not None:
            # Hypothesis replays a failing example while shrinking; a call that hung or killed the
            # worker would do so again each time, so later calls of the same test fail at once.
            raise type(self._fatal)(f"{self._fatal}\n(Later calls in this test were not run again.)")
        for value in list(args) + list((kwargs or {}).values()):
            if isinstance(value, Handle) and value.generation != self.generation:
                raise StaleHandle(
                    f"a {value.type_name or 'object'} made by an earlier call is gone: the worker was "
                    "restarted after a failure, so this test cannot use it"
                )
        request = {"op": "call", "function": function, "args": list(args), "kwargs": dict(kwargs or {}), "keep": keep}
        try:
            return self._exchange(request, timeout or self.limits.call_timeout_s, f"adapters.{function}()")
        except (CallTimedOut, WorkerDied, MemoryLimitExceeded) as exc:
            self._fatal = exc
            raise

    def call_ranks(self, function: str, rank_args: list, *, backend: str | None = None, timeout: float | None = None) -> list:
        """Call adapters.<function> on every rank of a fresh torch.distributed process group.

        rank_args holds one (args, kwargs) per rank; the list's length is the world size. The
        worker starts the ranks as its own children (same limits), joins them in a process group
        (gloo on CPU, NCCL where there is a GPU per rank, or `backend`) with a timeout, so a
        deadlocked rank fails the call rather than hanging the run. Returns each rank's result.
        """
        if self._fatal is not None:
            raise type(self._fatal)(f"{self._fatal}\n(Later calls in this test were not run again.)")
        timeout = timeout or self.limits.call_timeout_s
        world_size = len(rank_args)
        request = {
            "op": "call_ranks", "function": function, "world_size": world_size, "backend": backend,
            "rank_args": [[list(a), dict(k)] for a, k in rank_args], "timeout_s": timeout,
        }
        try:
            # The worker reports a rank that hangs after timeout + 5 s; this is the backstop.
            return self._exchange(request, timeout + 60, f"adapters.{function}() on {world_size} ranks")
        except (CallTimedOut, WorkerDied, MemoryLimitExceeded) as exc:
            self._fatal = exc
            raise

    def begin_test(self) -> None:
        """A new test starts: calls that failed fatally in the previous one no longer block."""
        self._fatal = None

    def signature(self, function: str) -> str | None:
        """The text of inspect.signature(adapters.<function>), or None if it does not exist."""
        return self._exchange({"op": "signature", "function": function}, self.limits.call_timeout_s, "reading adapters.py")

    def release(self, handle: Handle) -> None:
        if self._proc is not None and handle.generation == self.generation:
            self._exchange({"op": "release", "handle": handle.id}, self.limits.call_timeout_s, "releasing an object")

    def _exchange(self, request: dict, timeout: float, what: str):
        if self._proc is None:
            self._start()
        self._next_id += 1
        request["id"] = self._next_id
        out_mark, err_mark = self._stdout.total, self._stderr.total
        self._timeout = timeout
        deadline = time.monotonic() + timeout
        try:
            self._send(transport.pack(request), deadline, what)
            frame = self._receive(deadline, what)
        except SubmissionError as exc:
            self._kill()
            raise type(exc)(self._with_output(str(exc), out_mark, err_mark)) from None
        try:
            reply = transport.unpack(frame)
            if not isinstance(reply, dict) or reply.get("id") != request["id"] or not isinstance(reply.get("ok"), bool):
                raise transport.MalformedFrame("the reply does not answer the request")
        except transport.MalformedFrame as exc:
            self._kill()
            raise BadResult(f"{what}: the worker sent back something that is not a valid result ({exc})") from None
        if reply["ok"]:
            return reply.get("value")
        self._raise_for(reply.get("error") or {}, what, out_mark, err_mark)

    def _send(self, data: bytes, deadline: float, what: str) -> None:
        view = memoryview(len(data).to_bytes(8, "little") + data)
        while view:
            self._wait(self._req_w, "w", deadline, what)
            try:
                n = os.write(self._req_w, view)
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise self._died(what) from None
            view = view[n:]

    def _receive(self, deadline: float, what: str) -> bytes:
        header = self._read(8, deadline, what)
        length = int.from_bytes(header, "little")
        if length > transport.DEFAULT_MAX_FRAME_BYTES:
            raise BadResult(f"{what} sent back {length} bytes, more than the limit of {transport.DEFAULT_MAX_FRAME_BYTES}")
        return self._read(length, deadline, what)

    def _read(self, n: int, deadline: float, what: str) -> bytes:
        chunks, remaining = [], n
        while remaining:
            self._wait(self._resp_r, "r", deadline, what)
            try:
                chunk = os.read(self._resp_r, min(remaining, 1 << 22))
            except BlockingIOError:
                continue
            if not chunk:
                raise self._died(what)
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _wait(self, fd: int, mode: str, deadline: float, what: str) -> None:
        """Block until fd is ready, checking the clock and the memory of the worker's processes."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CallTimedOut(
                    f"{what} did not finish within its time limit of {self._timeout:g} s; the grader stopped it. "
                    "Look for an infinite loop, a wait that never ends, or work far slower than needed."
                )
            ready = select.select([fd], [], [], min(left, 0.2)) if mode == "r" else select.select([], [fd], [], min(left, 0.2))
            if ready[0] or ready[1]:
                return
            used = resident_bytes(_session_members(self._proc.pid))
            if used > self.limits.memory_bytes:
                raise MemoryLimitExceeded(
                    f"{what} used {used / GiB:.1f} GiB of memory, more than the limit of "
                    f"{self.limits.memory_bytes / GiB:.1f} GiB; the grader stopped it"
                )
            if self._proc.poll() is not None and mode == "w":
                raise self._died(what)

    def _died(self, what: str) -> SubmissionError:
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            why = "closed its connection to the grader"
        elif code >= 0:
            why = f"ended the worker process with exit status {code} (os._exit, sys.exit in the wrong place, or a crash)"
        else:
            sig = -code
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            hints = {
                signal.SIGXCPU: "it used up its CPU-time limit",
                signal.SIGKILL: "it was killed, often for running out of memory",
                signal.SIGSEGV: "a segmentation fault",
                signal.SIGXFSZ: "it wrote a file larger than the limit",
            }
            why = f"ended the worker process with signal {name}" + (f" ({hints[sig]})" if sig in hints else "")
        return WorkerDied(f"{what}: the submission's code {why}. Tests that follow get a fresh worker.")

    def _with_output(self, message: str, out_mark: int, err_mark: int) -> str:
        out = self._stdout.since(out_mark) if hasattr(self, "_stdout") else ""
        err = self._stderr.since(err_mark) if hasattr(self, "_stderr") else ""
        parts = [message]
        if out.strip():
            parts.append("Last output on stdout:\n" + out.rstrip())
        if err.strip():
            parts.append("Last output on stderr:\n" + err.rstrip())
        return "\n".join(parts)

    def _raise_for(self, error: dict, what: str, out_mark: int, err_mark: int):
        kind = error.get("kind")
        name = clean(error.get("type", "Exception"), 200)
        message = clean(error.get("message", ""), 2000)
        tb = clean(error.get("traceback", ""), 8000)
        if kind == "import" and error.get("missing_module") == f"{self.package}.adapters":
            exc = SubmissionImportError(
                f"the submission has no {self.package}/adapters.py, so {what} could not run: copy "
                f"specs/{self.package}/adapters.py to SUBMISSION/{self.package}/adapters.py and fill it in"
            )
        elif kind == "import":
            exc = SubmissionImportError(
                f"importing {self.package}/adapters.py failed, so {what} could not run:\n{tb}{_hint(name, message)}"
            )
        elif kind == "missing":
            exc = AdapterMissing(f"{what}: {message}. Copy the function from the adapter template and fill it in.")
        elif kind == "not_implemented":
            exc = NotImplementedBySubmission(f"{what} is not implemented yet (it raises NotImplementedError).")
        elif kind == "exception":
            exc = SubmissionRaised(f"{what} raised {name}: {message}\n{tb}{_hint(name, message)}")
        elif kind == "exit":
            exc = SubmissionExited(
                f"{what} raised {name}({message}); a submission may not end or interrupt the grading process.\n{tb}"
            )
        elif kind == "memory":
            self._kill()
            exc = MemoryLimitExceeded(
                f"{what} ran out of memory (the limit is {self.limits.memory_bytes / GiB:.1f} GiB).\n{tb}"
            )
        elif kind == "unsendable":
            exc = BadResult(f"{what} returned something the grader cannot accept: {message}")
        elif kind == "rank_timeout":
            exc = CallTimedOut(f"{what}: {message}")
        elif kind == "rank_died":
            exc = SubmissionExited(f"{what}: {message}; a submission may not end the process it runs in")
        elif kind == "bad_handle":
            exc = StaleHandle(f"{what}: {message}")
        else:
            exc = SubmissionError(f"{what} failed inside the sandbox ({name}: {message})")
        raise type(exc)(self._with_output(str(exc), out_mark, err_mark)) from None

    # Shutdown -------------------------------------------------------------------------

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        self.generation += 1  # handles into the dead worker are stale from now on
        for fd in (self._req_w, self._resp_r):
            try:
                os.close(fd)
            except OSError:
                pass
        members = _session_members(proc.pid) or [proc.pid]
        for _ in range(50):  # a fork bomb may start new members while the first ones die
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError as exc:
                    if exc.errno not in (errno.ESRCH, errno.EPERM):
                        raise
            members = [pid for pid in _session_members(proc.pid) if not _is_zombie(pid)]
            if not members:
                break
        if self._cgroup is not None:
            self._cgroup.kill_all()
        if self._uid is not None:
            _kill_uid(self._uid)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._stdout.join(1)
        self._stderr.join(1)

    def restart(self) -> None:
        """Throw the current worker away; the next call starts a fresh one."""
        self._kill()

    def close(self) -> None:
        if self._proc is not None:
            proc = self._proc
            try:
                os.close(self._req_w)  # the worker sees end of file and returns
                self._req_w = -1
                proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._proc = proc
            self._kill()
        self._finalizer()

    @staticmethod
    def _cleanup(root: Path, uid_lock, cgroup) -> None:
        if cgroup is not None:
            cgroup.remove()
        shutil.rmtree(root, ignore_errors=True)
        if uid_lock is not None:
            uid_lock.close()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
