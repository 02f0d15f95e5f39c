"""The sandbox worker: runs a submission's adapter functions in a process of its own.

Started by grader.sandbox.client as `python -s -P -B worker.py CONFIG`, from a runtime folder
outside the repository. In order, it: applies the resource limits, gives up root when told to,
moves into the submission's temporary copy, scrubs the import path down to the copy, the
standard library and site-packages, blocks the grader's own packages, and then serves
requests read from a pipe until the pipe closes.

Only plain data leaves this process (see transport.py). Student output goes to this process's
stdout and stderr, which the grader drains separately, so nothing printed can forge a reply.
This file imports nothing from the grader.
"""

import importlib
import importlib.util
import os
import resource
import sys
import traceback

RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("_sandbox_transport", os.path.join(RUNTIME_DIR, "transport.py"))
transport = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(transport)

MAX_TRACEBACK_CHARS = 12_000


class _BlockGraderImports:
    """Meta-path finder that refuses the grader's own top-level packages."""

    def __init__(self, names):
        self.names = frozenset(names)

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: the grader's own code is not importable from a submission",
                name=fullname,
            )
        return None


def apply_limits(limits: dict) -> None:
    def lower(which, value):
        if value is None:
            return
        soft, hard = resource.getrlimit(which)
        value = int(value)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))

    lower(resource.RLIMIT_CORE, 0)
    lower(resource.RLIMIT_AS, limits.get("address_space_bytes"))
    lower(resource.RLIMIT_CPU, limits.get("cpu_seconds"))
    lower(resource.RLIMIT_FSIZE, limits.get("file_bytes"))
    lower(resource.RLIMIT_NOFILE, limits.get("open_files"))


def _tasks_of_user(uid: int) -> int:
    """How many tasks (threads count) this uid runs now; RLIMIT_NPROC counts the same."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                pass
    return count


def drop_privileges_and_limit_processes(config: dict) -> None:
    uid = config.get("uid")
    max_tasks = config["limits"].get("processes")
    if uid is not None and os.getuid() == 0:
        gid = config.get("gid", uid)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    if max_tasks is not None and os.getuid() != 0:
        # RLIMIT_NPROC counts every task of this uid, so leave room for what already runs.
        limit = _tasks_of_user(os.getuid()) + int(max_tasks)
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))


# ---------------------------------------------------------------------------------------
# Confinement: what the worker may read, write, signal and connect to
# ---------------------------------------------------------------------------------------
#
# A uid of its own keeps a worker away from root's files only when the grader runs as root and
# the interpreter is usable by another uid; on a CI runner or a laptop the worker runs as the
# grader's user and could read the reference solutions, the answer keys and the grader, or write
# into the report folder. Landlock (Linux 5.13+, no privileges needed) closes that: the worker and
# everything it starts may read only the interpreter, the standard library, site-packages and
# system folders, and write only inside its own sandbox folder. With Landlock ABI 6 (Linux 6.12+)
# it also may not signal processes outside the sandbox (the grader, say). A network namespace
# (an unprivileged user namespace, where the kernel allows one) leaves it only a loopback device.

_SYS_LANDLOCK_CREATE_RULESET, _SYS_LANDLOCK_ADD_RULE, _SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_READ = (1 << 0) | (1 << 2) | (1 << 3)  # execute, read a file, list a folder
_SYSTEM_READ_ROOTS = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/proc", "/sys")


def _libc():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return ctypes, libc


def _python_read_roots() -> set:
    """Folders the interpreter needs: its own installation, the standard library, site-packages."""
    import site
    import sysconfig

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    roots.update(v for k, v in sysconfig.get_paths().items() if k in ("stdlib", "platstdlib", "purelib", "platlib"))
    roots.update(site.getsitepackages())
    return {os.path.realpath(r) for r in roots if r}


def confine_filesystem(writable: list, readable: list = (), protected: list = ()) -> str | None:
    """Landlock the process: read-only access to the interpreter, system folders and `readable`,
    read/write access to `writable` and /dev. Returns a description, or None where the kernel has
    no Landlock. `protected` folders only get a warning in the description if they stay readable."""
    ctypes, libc = _libc()
    abi = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION
    if abi < 1:
        return None
    all_fs = (1 << 13) - 1  # execute ... make_sym
    if abi >= 2:
        all_fs |= 1 << 13  # refer
    if abi >= 3:
        all_fs |= 1 << 14  # truncate
    if abi >= 5:
        all_fs |= 1 << 15  # ioctl on devices
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets and signals stay inside the sandbox
    attr = (ctypes.c_uint64 * 3)(all_fs, 0, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), size, 0)
    if ruleset < 0:
        return None
    file_rights = (1 << 0) | (1 << 1) | (1 << 2) | ((1 << 14) if abi >= 3 else 0) | ((1 << 15) if abi >= 5 else 0)

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    def allow(path, rights):
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return  # not on this machine
        try:
            if not os.path.isdir(path):
                rights &= file_rights
            rule = PathBeneath(rights, fd)
            libc.syscall(_SYS_LANDLOCK_ADD_RULE, ruleset, 1, ctypes.byref(rule), 0)  # LANDLOCK_RULE_PATH_BENEATH
        finally:
            os.close(fd)

    try:
        for path in sorted(_python_read_roots() | set(_SYSTEM_READ_ROOTS) | set(readable)):
            allow(path, _LANDLOCK_READ)
        for path in list(writable) + ["/dev"]:
            allow(path, all_fs)
        libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS, which restrict_self requires
        if libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    note = (f"files: reads only Python, site-packages and system folders, writes only its sandbox folder "
            f"(Landlock ABI {abi})" + ("; cannot signal the grader" if scoped else ""))
    readable = sorted(_python_read_roots() | set(_SYSTEM_READ_ROOTS))
    for path in protected:  # a repository installed under /usr, say, stays readable: say so
        real = os.path.realpath(path)
        inside = [r for r in readable if real == r or real.startswith(r.rstrip("/") + "/")]
        if inside:
            note += f"; WARNING: {real} is readable, because it lies inside {inside[0]}"
    return note


def _enter_network_namespace() -> None:
    """unshare a user and a network namespace, keep our uid/gid, and bring loopback up."""
    import fcntl
    import socket
    import struct

    ctypes, libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(0x10000000 | 0x40000000) != 0:  # CLONE_NEWUSER | CLONE_NEWNET
        raise OSError(ctypes.get_errno(), "unshare failed")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", 0x1 | 0x8 | 0x40))  # SIOCSIFFLAGS: up, loopback, running


def confine_network() -> str | None:
    """Leave the worker only a loopback device (ranks still talk to each other over it).

    Opt-in (AUTOGRADER_SANDBOX_NETNS=1): gloo works inside, but under gVisor a collective that one
    rank never joins is then only caught by the call's time limit, not by gloo's own timeout.

    Tried first in a child process, because a half-done attempt cannot be undone: where the
    kernel refuses an unprivileged user namespace, the worker keeps the machine's network."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            _enter_network_namespace()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        return None
    _enter_network_namespace()
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"  # the only device there is
    return "network: loopback only (a network namespace of its own)"


def scrub_import_path(import_root: str, blocked: list) -> None:
    import site
    import sysconfig

    allowed_roots = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            allowed_roots.add(os.path.realpath(path))
    for path in site.getsitepackages():
        allowed_roots.add(os.path.realpath(path))

    def allowed(entry: str) -> bool:
        if not entry:
            return False
        real = os.path.realpath(entry)
        if real.endswith(".zip") and os.path.dirname(real) + "/" in {r + "/" for r in map(os.path.dirname, allowed_roots)}:
            return True  # the zipped standard library, where there is one
        return any(real == root or real.startswith(root + os.sep) for root in allowed_roots)

    sys.path[:] = [import_root] + [p for p in sys.path if allowed(p)]
    # Editable installs put finders on sys.meta_path; a submission sees none of them.
    sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith("__editable__")]
    sys.meta_path.insert(0, _BlockGraderImports(blocked))
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()


def clean_traceback(exc: BaseException, import_root: str) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(RUNTIME_DIR)]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames[-30:])
    lines += traceback.format_exception_only(type(exc), exc)
    text = "".join(lines).replace(import_root.rstrip("/") + "/", "")
    if len(text) > MAX_TRACEBACK_CHARS:
        text = "...\n" + text[-MAX_TRACEBACK_CHARS:]
    return text


class Worker:
    def __init__(self, config: dict):
        self.config = config
        self.request_fd = config["request_fd"]
        self.response_fd = config["response_fd"]
        self.import_root = config["import_root"]
        self.package = config["package"]
        self.generation = config.get("generation", 0)
        self.objects = {}
        self.next_handle = 1
        self.adapters = None
        self.import_error = None
        self.rank_pool = None

    # Requests ------------------------------------------------------------------------

    def serve(self) -> None:
        os.chdir(self.config["package_dir"])
        self.snapshot = (os.getcwd(), dict(os.environ), list(sys.path))
        while True:
            frame = transport.read_frame(self.request_fd)
            if frame is None:
                return
            request = transport.unpack(frame, resolve_handle=_HandleRef)
            reply = self.handle(request)
            transport.write_frame(self.response_fd, reply)

    def restore_state(self) -> None:
        """Undo what an earlier call did to the working directory, environment and path."""
        cwd, environ, path = self.snapshot
        try:
            os.chdir(cwd)
        except OSError:
            pass
        if dict(os.environ) != environ:
            os.environ.clear()
            os.environ.update(environ)
        sys.path[:] = path

    def handle(self, request: dict) -> bytes:
        rid = request.get("id")
        op = request.get("op")
        self.restore_state()
        try:
            if op == "ping":
                return self.reply(rid, {"pid": os.getpid(), "uid": os.getuid(), "confinement": self.config.get("confinement", [])})
            if op == "release":
                self.objects.pop(request.get("handle"), None)
                return self.reply(rid, None)
            if op == "import":
                try:
                    self.load_adapters()
                except _ImportFailed:
                    pass  # reported by the calls that need the module
                return self.reply(rid, None)
            if op == "signature":
                return self.reply(rid, self.signature(request["function"]))
            if op == "call":
                return self.call(rid, request)
            if op == "call_ranks":
                return self.call_ranks(rid, request)
            return self.error(rid, "bad_request", "ValueError", f"unknown operation {op!r}", "")
        except BaseException as exc:  # the grader gets a reply whatever happened
            return self.error(rid, "internal", type(exc).__name__, str(exc), clean_traceback(exc, self.import_root))

    def load_adapters(self):
        if self.adapters is None and self.import_error is None:
            try:
                self.adapters = importlib.import_module(f"{self.package}.adapters")
            except BaseException as exc:
                self.import_error = exc
        if self.import_error is not None:
            raise _ImportFailed(self.import_error)
        return self.adapters

    def resolve(self, value):
        if type(value) is _HandleRef:
            if value.generation != self.generation or value.id not in self.objects:
                raise _StaleHandle(value.id)
            return self.objects[value.id]
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def signature(self, name: str):
        import inspect

        module = self.load_adapters()
        fn = getattr(module, name, None)
        if fn is None:
            return None
        try:
            return str(inspect.signature(fn))
        except (TypeError, ValueError):
            return ""

    def call(self, rid, request: dict) -> bytes:
        name = request["function"]
        try:
            module = self.load_adapters()
        except _ImportFailed as failure:
            exc = failure.exc
            kind = "exit" if not isinstance(exc, Exception) else "import"
            reply = self.error(rid, kind, type(exc).__name__, str(exc), clean_traceback(exc, self.import_root),
                               missing_module=getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None)
            return reply
        fn = getattr(module, name, None)
        if fn is None or not callable(fn):
            return self.error(rid, "missing", "AttributeError", f"adapters.py defines no function {name!r}", "")
        try:
            args = self.resolve(request.get("args", []))
            kwargs = self.resolve(request.get("kwargs", {}))
        except _StaleHandle as stale:
            return self.error(rid, "bad_handle", "ValueError", f"handle {stale.args[0]} no longer exists in this worker", "")
        try:
            result = fn(*args, **kwargs)
        except NotImplementedError as exc:
            return self.error(rid, "not_implemented", "NotImplementedError", str(exc), clean_traceback(exc, self.import_root))
        except MemoryError as exc:
            return self.error(rid, "memory", "MemoryError", str(exc), clean_traceback(exc, self.import_root))
        except Exception as exc:
            return self.error(rid, "exception", type(exc).__name__, str(exc), clean_traceback(exc, self.import_root))
        except BaseException as exc:  # SystemExit, KeyboardInterrupt, GeneratorExit
            return self.error(rid, "exit", type(exc).__name__, str(exc), clean_traceback(exc, self.import_root))
        if request.get("keep"):
            hid = self.next_handle
            self.next_handle += 1
            self.objects[hid] = result
            handle = transport.Handle(hid, transport._qualname(result), self.generation)
            return transport.pack_reply(rid, handle)
        try:
            return transport.pack_reply(rid, result)
        except transport.Unsendable as exc:
            return self.error(rid, "unsendable", "TypeError", str(exc), "")
        except MemoryError as exc:
            return self.error(rid, "memory", "MemoryError", "ran out of memory while sending the result", "")
        except Exception as exc:  # a lying __len__, a tensor that cannot be copied, ...
            return self.error(rid, "unsendable", type(exc).__name__, f"the result could not be sent back: {exc}", "")

    def call_ranks(self, rid, request: dict) -> bytes:
        """Run adapters.<function> once per rank of a torch.distributed process group, and reply
        with the list of the ranks' results.

        The ranks are processes of their own (children of this worker: same limits, user, cgroup
        and session), kept between calls with the same world size and backend so that each call
        does not pay for starting them. A rank that fails, or does not answer within timeout_s,
        ends the call and the group; the next call starts a fresh one.
        """
        world_size, backend = int(request["world_size"]), request.get("backend")
        pool = self.rank_pool
        if pool is not None and (pool.world_size, pool.backend) != (world_size, backend):
            pool.close()
            pool = None
        if pool is None:
            pool = self.rank_pool = _RankPool(self, world_size, backend, float(request["timeout_s"]))
        replies, failures = pool.call(request["function"], request["rank_args"], float(request["timeout_s"]))
        if failures:
            pool.close()
            self.rank_pool = None
            # A rank that raised explains more than one that timed out waiting for it.
            failures.sort(key=lambda f: (f[1]["kind"] in ("rank_timeout", "rank_died"), f[0]))
            rank, error = failures[0]
            error = dict(error, message=f"on rank {rank} of {world_size}: {error['message']}")
            return transport.pack({"id": rid, "ok": False, "error": error})
        try:
            return transport.pack_reply(rid, replies)
        except Exception as exc:
            return self.error(rid, "unsendable", type(exc).__name__, f"the results could not be sent back: {exc}", "")

    def reply(self, rid, value) -> bytes:
        return transport.pack_reply(rid, value)

    def error(self, rid, kind, type_name, message, tb, missing_module=None) -> bytes:
        err = {"kind": kind, "type": str(type_name)[:200], "message": str(message)[:4000], "traceback": tb}
        if isinstance(missing_module, str):
            err["missing_module"] = missing_module[:200]
        return transport.pack({"id": rid, "ok": False, "error": err})


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _ImportFailed(Exception):
    def __init__(self, exc):
        super().__init__(str(exc))
        self.exc = exc


class _StaleHandle(Exception):
    pass


class _HandleRef:
    """A handle as it arrives in a request, before it is looked up in Worker.objects."""

    __slots__ = ("id", "generation")

    def __init__(self, id, generation):
        self.id = id
        self.generation = generation


class _RankPool:
    """world_size rank processes joined in one process group, each serving calls over a pipe pair."""

    def __init__(self, worker: "Worker", world_size: int, backend, timeout: float):
        import json
        import subprocess
        import tempfile

        self.world_size, self.backend = world_size, backend
        self.run_dir = tempfile.mkdtemp(prefix="ranks-")
        port = _free_port()  # for code that reads MASTER_PORT; the group itself meets in a file store
        self.procs, self.requests, self.responses = [], [], []
        for rank in range(world_size):
            req_r, req_w = os.pipe()
            resp_r, resp_w = os.pipe()
            config = {
                "import_root": worker.import_root, "package": worker.package, "package_dir": worker.config["package_dir"],
                "blocked_modules": worker.config["blocked_modules"], "rank": rank, "world_size": world_size,
                "backend": backend, "timeout_s": timeout, "store": os.path.join(self.run_dir, "store"),
                "request_fd": req_r, "response_fd": resp_w,
            }
            config_path = os.path.join(self.run_dir, f"rank-{rank}.json")
            with open(config_path, "w") as f:
                json.dump(config, f)
            env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                       LOCAL_WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
            command = [sys.executable, "-s", "-P", "-B", os.path.join(RUNTIME_DIR, "worker.py"), "--rank", config_path]
            self.procs.append(subprocess.Popen(command, stdin=subprocess.DEVNULL, env=env, cwd=worker.config["package_dir"],
                                               pass_fds=(req_r, resp_w)))
            os.close(req_r)
            os.close(resp_w)
            self.requests.append(req_w)
            self.responses.append(resp_r)
        self.next_id = 0

    def call(self, function: str, rank_args: list, timeout: float):
        """Send each rank its call; return (results, failures): failures are (rank, error) pairs."""
        import threading

        self.next_id += 1
        replies = [None] * self.world_size

        def exchange(rank):
            args, kwargs = rank_args[rank]
            try:
                frame = transport.pack({"id": self.next_id, "op": "call", "function": function, "args": args, "kwargs": kwargs})
                transport.write_frame(self.requests[rank], frame)
                reply = transport.read_frame(self.responses[rank])
                replies[rank] = transport.unpack(reply) if reply is not None else None
            except Exception:
                replies[rank] = None  # the rank died: its pipe broke

        threads = [threading.Thread(target=exchange, args=(rank,), daemon=True) for rank in range(self.world_size)]
        for thread in threads:
            thread.start()
        # The ranks' own collectives time out after `timeout`; a rank stuck elsewhere is stopped 5 s later.
        deadline = __import__("time").monotonic() + timeout + 5
        for thread in threads:
            thread.join(max(0.0, deadline - __import__("time").monotonic()))
        results, failures = [], []
        for rank, reply in enumerate(replies):
            if threads[rank].is_alive():
                failures.append((rank, {"kind": "rank_timeout", "type": "TimeoutError", "traceback": "", "message":
                    f"did not finish within {timeout:g} s (a deadlock? every rank must make the same collective calls)"}))
            elif reply is None:
                self.procs[rank].wait()
                failures.append((rank, {"kind": "rank_died", "type": "SystemExit", "traceback": "",
                    "message": f"its process ended with status {self.procs[rank].returncode} before returning"}))
            elif not reply.get("ok"):
                failures.append((rank, reply["error"]))
            else:
                results.append(reply.get("value"))
        return results, failures

    def close(self) -> None:
        import shutil

        for fd in self.requests + self.responses:
            try:
                os.close(fd)
            except OSError:
                pass
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        shutil.rmtree(self.run_dir, ignore_errors=True)


def rank_main(config_path: str) -> None:
    """One rank of a _RankPool: join the process group, then serve adapter calls from the pipe.

    Limits, user and cgroup are inherited from the worker; the import path is scrubbed again
    because this is a fresh interpreter.
    """
    import datetime
    import json

    with open(config_path) as f:
        config = json.load(f)
    for fd in (config["request_fd"], config["response_fd"]):
        os.set_inheritable(fd, False)
    scrub_import_path(config["import_root"], config["blocked_modules"])
    sys.modules.pop("_sandbox_transport", None)
    worker = Worker(config)
    os.chdir(config["package_dir"])
    worker.snapshot = (os.getcwd(), dict(os.environ), list(sys.path))
    rank, world_size = config["rank"], config["world_size"]
    failed_to_join = None
    try:
        import torch
        import torch.distributed as dist

        backend = config["backend"] or ("nccl" if torch.cuda.is_available() and torch.cuda.device_count() >= world_size else "gloo")
        if backend == "nccl":
            torch.cuda.set_device(rank)
        dist.init_process_group(
            backend, init_method="file://" + config["store"], rank=rank, world_size=world_size,
            timeout=datetime.timedelta(seconds=config["timeout_s"]),
        )
    except BaseException as exc:
        failed_to_join = exc
    while True:
        frame = transport.read_frame(config["request_fd"])
        if frame is None:
            return
        request = transport.unpack(frame)
        if failed_to_join is not None:
            reply = worker.error(request["id"], "internal", type(failed_to_join).__name__,
                                 f"could not join the process group: {failed_to_join}", "")
        else:
            worker.restore_state()
            reply = worker.call(request["id"], request)
        transport.write_frame(config["response_fd"], reply)


def main() -> None:
    import json

    if sys.argv[1] == "--rank":
        rank_main(sys.argv[2])
        return
    with open(sys.argv[1]) as f:
        config = json.load(f)
    for fd in (config["request_fd"], config["response_fd"]):
        os.set_inheritable(fd, False)  # children of student code do not get the pipes
    if config.get("cgroup_procs"):
        # Join the pids cgroup before anything else runs: it caps and tracks all our tasks.
        with open(config["cgroup_procs"], "w") as f:
            f.write(str(os.getpid()))
    apply_limits(config["limits"])
    drop_privileges_and_limit_processes(config)
    confinement = []
    if config.get("confine_network"):
        confinement.append(confine_network() or "network: NOT isolated (no unprivileged network namespace)")
    if config.get("confine_files"):
        # Not the runtime folder: a worker that could rewrite worker.py or its config would run
        # the next worker's start-up, before this confinement. Not inputs: they are hard links
        # to the grader's own files.
        root = config["sandbox_root"]
        writable = [config["import_root"], os.path.join(root, "home"), os.path.join(root, "tmp")]
        readable = [os.path.join(root, "runtime"), os.path.join(root, "inputs")]
        confinement.append(confine_filesystem(writable, readable, config.get("protected", [])) or "files: NOT confined (this kernel has no Landlock)")
    config["confinement"] = confinement
    scrub_import_path(config["import_root"], config["blocked_modules"])
    sys.modules.pop("_sandbox_transport", None)
    Worker(config).serve()


if __name__ == "__main__":
    main()
