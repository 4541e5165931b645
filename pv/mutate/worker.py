"""The mutant worker: a warm interpreter that forks one short-lived child per test run.

Starting Python, pytest and the test's third-party imports (torch alone takes seconds) for every
mutant would make mutation analysis too slow to run in CI. A worker imports those once
(``preload``), then forks a child per run: the child installs the mutant's import-time overlay
(``overlay.py``), runs the one bound test with pytest and exits with pytest's status; the worker
kills the child's whole process group when it outlives its timeout, or when pv itself is gone.

The worker is a script run by file path and imports nothing of the project before it forks: a
project module it held would be inherited by every child, and no overlay could replace it then.
Requests and replies are JSON lines on stdin / stdout:

- ``{"op": "preload", "modules": [...]}`` -> ``{"loaded": n}``
- ``{"op": "run", "node": ID, "overlay": {path: text}, "timeout": s|null, "trace": bool, "omit": [...]}``
  -> ``{"exit": status|null (timed out), "duration": s, "tail": output, "trace": {...}|null}``
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
# --assert=plain: pytest would otherwise import every module of a distribution that ships a pytest plugin
# (this project ships pv's) through its assertion-rewriting hook, which sits before the overlay.
PYTEST_ARGS = ["-q", "-x", "-p", "no:cacheprovider", "--no-header", "--assert=plain"]


def _overlay_module() -> Any:
    spec = importlib.util.spec_from_file_location("_pv_mutant_overlay", os.path.join(HERE, "overlay.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _under(path: str | None, root: str) -> bool:
    return bool(path) and os.path.realpath(path).startswith(root + os.sep)  # type: ignore[arg-type]


def preload(modules: list[str]) -> dict[str, Any]:
    loaded = 0
    for name in modules:
        try:
            importlib.import_module(name)
            loaded += 1
        except BaseException:  # a module that does not import here is simply not preloaded
            continue
    return {"loaded": loaded}


def _hypothesis_profile() -> None:
    """Deterministic examples, no shrinking (a kill needs one failing example, not the smallest), no database."""
    try:
        from hypothesis import Phase, settings
    except ImportError:
        return
    settings.register_profile("pv-mutate", derandomize=True, database=None,
                              phases=[Phase.explicit, Phase.reuse, Phase.generate])
    settings.load_profile("pv-mutate")


def _trace_phases(cov: Any) -> object:
    """A pytest plugin measuring only what the test's setup and call run, not what importing and
    collecting it ran: the module-level lines of every imported module are not code the test exercises."""
    import pytest

    class TracePhases:
        @pytest.hookimpl(wrapper=True, tryfirst=True)
        def pytest_runtest_setup(self, item: Any) -> Any:
            cov.start()
            try:
                return (yield)
            finally:
                cov.stop()

        @pytest.hookimpl(wrapper=True, tryfirst=True)
        def pytest_runtest_call(self, item: Any) -> Any:
            cov.start()
            try:
                return (yield)
            finally:
                cov.stop()

    return TracePhases()


def _child(req: dict[str, Any], root: str, trace_path: str) -> int:
    import pytest

    _hypothesis_profile()
    cov = None
    plugins: list[object] = []
    if req.get("trace"):
        import coverage

        cov = coverage.Coverage(data_file=None, config_file=False, include=[root + os.sep + "*"],
                                omit=[os.path.join(root, o) for o in req.get("omit", [])] + [os.path.join(HERE, "*")])
        plugins.append(_trace_phases(cov))
    try:
        code = int(pytest.main([req["node"], *PYTEST_ARGS], plugins=plugins))
    finally:
        if cov is not None:
            cov.stop()
            data = cov.get_data()
            lines = {f: sorted(data.lines(f) or []) for f in data.measured_files()}
            files = sorted({os.path.realpath(m.__file__) for m in list(sys.modules.values())
                            if _under(getattr(m, "__file__", None), root)})
            third = sorted({name.partition(".")[0] for name, m in list(sys.modules.items())
                            if getattr(m, "__file__", None) and not _under(m.__file__, root)
                            and not name.startswith("__")})
            with open(trace_path, "w", encoding="utf-8") as handle:
                json.dump({"lines": lines, "files": files, "third_party": third}, handle)
    return code


def _wait(pid: int, timeout: float | None, parent: int) -> int | None:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            _kill_group(pid)  # anything the test left running in the background
            return os.waitstatus_to_exitcode(status)
        if (deadline is not None and time.monotonic() > deadline) or os.getppid() != parent:
            _kill_group(pid)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.01)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run(req: dict[str, Any], root: str, scratch: str, overlay: Any, parent: int, n: int) -> dict[str, Any]:
    base = os.path.join(scratch, f"job-{n}")
    out_path, trace_path, overlay_path = base + ".out", base + ".trace.json", base + ".overlay.json"
    with open(overlay_path, "w", encoding="utf-8") as handle:
        json.dump(req.get("overlay") or {}, handle)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 3
        try:
            os.setsid()
            fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.environ[overlay.ENV] = overlay_path
            overlay.install(req.get("overlay") or {})
            code = _child(req, root, trace_path)
        except BaseException:  # report anything; exit 3, pytest's "internal error"
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    status = _wait(pid, req.get("timeout"), parent)
    duration = time.monotonic() - start
    try:
        with open(out_path, encoding="utf-8", errors="replace") as handle:
            tail = handle.read()[-4000:]
    except OSError:
        tail = ""
    trace = None
    if req.get("trace") and os.path.exists(trace_path):
        with open(trace_path, encoding="utf-8") as handle:
            trace = json.load(handle)
    for path in (out_path, trace_path, overlay_path):
        with contextlib.suppress(OSError):
            os.unlink(path)
    return {"exit": status, "duration": round(duration, 4), "tail": tail, "trace": trace}


def main() -> None:
    root = os.path.realpath(sys.argv[1])
    sys.path[0] = root  # as under `python -m pytest` run from the root (this script's folder is not on it)
    os.chdir(root)
    overlay = _overlay_module()
    scratch = tempfile.mkdtemp(prefix="pv-mutate-")
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = os.path.join(scratch, "hypothesis")
    # the processes a test starts meet the same mutant: pv's sitecustomize runs the overlay's site_hook
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [os.path.join(os.path.dirname(HERE), "site_hooks"), root, *filter(None, [os.environ.get("PYTHONPATH")])])
    os.environ["PV_SITE_HOOKS"] = os.pathsep.join(
        [os.path.join(HERE, "overlay.py"), *filter(None, [os.environ.get("PV_SITE_HOOKS")])])
    sys.dont_write_bytecode = True
    parent = os.getppid()
    try:
        for n, line in enumerate(sys.stdin):
            req = json.loads(line)
            reply = preload(req["modules"]) if req["op"] == "preload" else run(req, root, scratch, overlay, parent, n)
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
