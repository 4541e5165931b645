"""Record which repository files a test (or a LIVE command) really depended on, while it runs.

Why imports and file reads, not line coverage: a test's outcome can change when *any* repository
module it imported changes (a syntax error or a changed module-level constant breaks it even if no
line of that module runs inside the test), so the closure of imports is required for safety; and
every line that runs in-process belongs to a module that was imported, so it is also enough. Line
coverage (coverage.py with per-test contexts) would add tracing cost and still attribute
import-time execution to whichever test happened to import a module first.

What is recorded, per *context* (a test node id, or a fixture, or a LIVE falsifier):

* every repository module an ``import`` statement or ``importlib.import_module`` asks for while the
  context is active (cached imports included), with its parent packages;
* for module-level imports, an *edge* importer -> imported file, recorded once when the module
  first executes; a context's inputs are the closure of its roots over these edges, so the result
  does not depend on which test imported a module first;
* repository files opened for reading (``sys.addaudithook``'s ``open`` event): data the test
  reads, such as a contract YAML; a read during a module's import becomes an edge of that module;
* Python child processes (``subprocess``, ``multiprocessing``, ``torchrun``): a ``sitecustomize``
  put on the child's ``PYTHONPATH`` records every repository module the child loads and every
  repository file it reads, appending to a spool file as it goes (a SIGKILLed child keeps what it
  wrote). A forked child keeps the parent's hooks and writes to the spool too. A Python child that
  cannot report (``-I``/``-E``/``-S``, or a replaced environment) makes the context depend on every
  Python file of the repository (:data:`WHOLE_TREE`): safe, never silently fresh.

Files under ``sys.prefix`` (an in-repo virtualenv), ``.git``, ``.pv`` and ``__pycache__`` are not
inputs. The module is standard-library only and imports nothing from pv, so a child process of any
Python can load it from its file path.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
import sys
import sysconfig
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator

ENV_SPOOL = "PV_INPUTS_SPOOL"
ENV_CONTEXT = "PV_INPUTS_CONTEXT"
ENV_ROOT = "PV_INPUTS_ROOT"
SITE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "site_hooks")  # its sitecustomize runs the hooks
ENV_SITE_HOOKS = "PV_SITE_HOOKS"  # the hook files a child's sitecustomize loads (os.pathsep-separated)
WHOLE_TREE = "glob:**/*.py"  # the input a context gets when a Python child could not report
DIR = "dir:"  # prefix of a recorded directory listing (os.listdir / os.scandir / glob of a repo folder)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_SKIP_DIRS = (".git", ".pv", "__pycache__", ".hypothesis", ".pytest_cache", ".ruff_cache")


_QUIET = threading.local()


@contextlib.contextmanager
def unrecorded() -> Iterator[None]:
    """Reads inside this block are bookkeeping, not inputs: pv hashing the files a ledger lists (when a
    test lints contracts in-process) must not make every listed file an input of that test."""
    _QUIET.depth = getattr(_QUIET, "depth", 0) + 1
    try:
        yield
    finally:
        _QUIET.depth -= 1


def context_dir(spool: str, context: str) -> str:
    return os.path.join(spool, hashlib.sha1(context.encode("utf-8", "surrogateescape")).hexdigest()[:20])


class _Paths:
    """Which absolute paths are repository files (cached: the same few hundred paths recur)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        self.prefix = self.root + os.sep
        outside = {sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths().get("purelib", ""),
                   sysconfig.get_paths().get("platlib", "")}
        self.excluded = tuple(os.path.realpath(p) + os.sep for p in outside if p)
        # pv's own plumbing, e.g. read by a child's traceback that passes through the finder below
        self.excluded += (os.path.realpath(SITE_DIR) + os.sep, os.path.realpath(__file__) + os.sep)
        self.cache: dict[object, str | None] = {}

    def repo(self, path: object, *, folder: bool = False) -> str | None:
        """The absolute path when ``path`` names a file (``folder``: a directory, the root included)
        inside the repository, else None. Relative paths are resolved against the current directory."""
        key = (path, folder)
        try:
            return self.cache[key]
        except (KeyError, TypeError):
            pass
        out = None
        try:
            text = os.fsdecode(path) if isinstance(path, str | bytes | os.PathLike) else None
        except (TypeError, ValueError):
            text = None
        if text and not (text.startswith("<") and text.endswith(">")):  # <string>, <frozen ...>: not files
            full = os.path.abspath(text)
            if not full.startswith(self.prefix):
                full = os.path.realpath(full)
            if folder and full == self.root:
                out = full
            elif full.startswith(self.prefix) and not (full + os.sep).startswith(self.excluded):
                parts = full[len(self.prefix):].split(os.sep)
                if not any(p in _SKIP_DIRS or p.endswith((".egg-info", "-info"))
                           for p in (parts if folder else parts[:-1])):
                    out = full
        if text and os.path.isabs(text):  # a relative path means something else after a chdir
            with contextlib.suppress(TypeError):
                self.cache[key] = out
        return out


def _read_only(mode: object, flags: object) -> bool:
    if isinstance(mode, str):
        return not any(c in mode for c in "wax+")
    return isinstance(flags, int) and not flags & _WRITE_FLAGS


def _python_like(executable: object, args: object) -> tuple[bool, bool]:
    """(is this spawn a Python interpreter, can it report through our sitecustomize)."""
    try:
        argv = [os.fsdecode(a) for a in args] if isinstance(args, list | tuple) else \
            [os.fsdecode(args)] if isinstance(args, str | bytes) else []
        exe = os.fsdecode(executable) if isinstance(executable, str | bytes | os.PathLike) else \
            (argv[0] if argv else "")
    except TypeError:
        return False, True
    name = os.path.basename(exe).lower()
    if not (name.startswith("python") or os.path.realpath(exe) == os.path.realpath(sys.executable)):
        return False, True
    for arg in argv[1:]:  # interpreter options end at the script, -c or -m
        if not arg.startswith("-") or arg.startswith("--") or arg in ("-c", "-m"):
            break
        if set(arg[1:]) & {"I", "E", "S"}:  # isolated / no environment / no site: sitecustomize never runs
            return True, False
    return True, True


class Recorder:
    """The in-process recorder of a pytest process (or one of its xdist workers)."""

    def __init__(self, root: str, spool: str) -> None:
        self.paths = _Paths(root)
        self.spool = spool
        self.edges: dict[str, set[str]] = defaultdict(set)  # module -> modules its top level imports
        self.roots: dict[str, set[str]] = defaultdict(set)  # context -> modules it imported
        # Files read as data (and folders listed) are leaves: their own imports are not followed, since
        # reading a .py file does not run it (it may well have been imported earlier by another test).
        self.leaf_edges: dict[str, set[str]] = defaultdict(set)  # module -> files its top level read
        self.leaves: dict[str, set[str]] = defaultdict(set)  # context -> files it read, folders it listed
        self.python_children: dict[str, int] = defaultdict(int)
        self.blind_children: dict[str, int] = defaultdict(int)
        self.context: str | None = None
        self.preloaded = {f for m in list(sys.modules.values())
                          if (f := self.paths.repo(getattr(m, "__file__", None) or ""))}
        self._import = builtins.__import__
        self._import_module = importlib.import_module
        self._child_out: object = None
        self._local = threading.local()  # re-entrancy guard: our own reads must not record themselves

    # -- install -----------------------------------------------------------------------------

    def install(self) -> None:
        builtins.__import__ = self._wrapped_import
        importlib.import_module = self._wrapped_import_module
        self._inherit_context_in_threads()
        sys.addaudithook(self._audit)
        os.register_at_fork(after_in_child=self._after_fork)
        os.makedirs(self.spool, exist_ok=True)
        os.environ[ENV_SPOOL] = self.spool
        os.environ[ENV_ROOT] = self.paths.root
        _add_site_hook(os.environ)

    def set_context(self, context: str | None) -> str | None:
        previous, self.context = self.context, context
        if context is None:
            os.environ.pop(ENV_CONTEXT, None)
        else:
            os.environ[ENV_CONTEXT] = context
        return previous

    def current(self) -> str | None:
        """The context work on this thread belongs to: a thread keeps the one it was started in, so a
        thread a test leaves running does not charge what it does later to the next test."""
        return getattr(self._local, "context", self.context)

    def _inherit_context_in_threads(self) -> None:
        recorder, start = self, threading.Thread.start

        def start_in_context(thread: threading.Thread) -> None:
            context, run = recorder.current(), thread.run

            def run_in_context() -> None:
                recorder._local.context = context
                run()

            thread.run = run_in_context  # type: ignore[method-assign]
            start(thread)

        threading.Thread.start = start_in_context  # type: ignore[method-assign]

    # -- hooks ---------------------------------------------------------------------------------

    def _wrapped_import(self, name, globals=None, locals=None, fromlist=(), level=0):
        module = self._import(name, globals, locals, fromlist, level)
        if not getattr(self._local, "busy", False):
            self._local.busy = True
            try:
                self._note_import(name, globals, fromlist, level, module, 2)
            except Exception:
                pass
            finally:
                self._local.busy = False
        return module

    def _wrapped_import_module(self, name, package=None):
        module = self._import_module(name, package)
        if not getattr(self._local, "busy", False):
            self._local.busy = True
            try:
                self._attribute(sys._getframe(1), self._module_files(module.__name__, ()))
            except Exception:
                pass
            finally:
                self._local.busy = False
        return module

    def _note_import(self, name, globals, fromlist, level, module, depth) -> None:
        if level:
            package = (globals or {}).get("__package__") or ""
            absname = importlib.util.resolve_name("." * level + name, package) if package else name
        else:
            absname = name
        if not absname:
            absname = getattr(module, "__name__", "")
        files = self._module_files(absname, fromlist or ())
        if files:
            self._attribute(sys._getframe(depth), files)

    def _module_files(self, absname: str, fromlist: Iterable[str]) -> set[str]:
        files = set()
        parts = absname.split(".")
        names = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
        names += [f"{absname}.{item}" for item in fromlist if isinstance(item, str) and item != "*"]
        for n in names:
            mod = sys.modules.get(n)
            f = self.paths.repo(getattr(mod, "__file__", None) or "") if mod is not None else None
            if f:
                files.add(f)
        return files

    def _attribute(self, frame, files: set[str], *, leaf: bool = False) -> None:
        """Module-level code records an edge of its module; anything else belongs to the context."""
        importer = self.paths.repo(frame.f_code.co_filename) if frame is not None else None
        if importer and frame.f_code.co_name == "<module>":
            (self.leaf_edges if leaf else self.edges)[importer].update(files - {importer})
        elif (context := self.current()) is not None:
            (self.leaves if leaf else self.roots)[context].update(files)
        if self._child_out is not None:
            self._write(files)

    def _audit(self, event: str, args: tuple) -> None:
        if event == "open":
            if getattr(self._local, "busy", False) or getattr(_QUIET, "depth", 0) or isinstance(args[0], int) \
                    or not _read_only(args[1], args[2]):
                return
            path = self.paths.repo(args[0])
            if path is None or not os.path.isfile(path):  # a probe of a path, a directory opened to fsync
                return
            self._local.busy = True
            try:
                self._attribute(_module_frame(sys._getframe(1), self.paths), {path}, leaf=True)
            finally:
                self._local.busy = False
        elif event in ("os.listdir", "os.scandir"):
            if getattr(self._local, "busy", False) or getattr(_QUIET, "depth", 0) or isinstance(args[0], int):
                return
            if _machinery(sys._getframe(1)):
                return
            folder = self.paths.repo("." if args[0] is None else args[0], folder=True)
            if folder is None or not os.path.isdir(folder):
                return
            self._local.busy = True
            try:
                self._attribute(_module_frame(sys._getframe(1), self.paths), {DIR + folder}, leaf=True)
            finally:
                self._local.busy = False
        elif event == "subprocess.Popen" and (context := self.current()) is not None:
            executable, argv, _cwd, env = args
            python, reports = _python_like(executable, argv)
            if isinstance(env, dict):  # the child gets exactly this mapping: make it report
                _patch_env(env, self.spool, context, self.paths.root)
            if python:
                self.python_children[context] += 1
                if not reports:
                    self.blind_children[context] += 1

    def _after_fork(self) -> None:
        """A forked child keeps these hooks; what it loads from now on goes to the spool."""
        context = self.current() or os.environ.get(ENV_CONTEXT)
        if context is None:
            return
        try:
            self._child_out = _open_spool(self.spool, context)
        except OSError:
            self._child_out = None

    def _write(self, files: Iterable[str]) -> None:
        try:
            self._child_out.write("".join(f + "\n" for f in files))  # type: ignore[attr-defined]
            self._child_out.flush()  # type: ignore[attr-defined]
        except (OSError, ValueError):
            pass

    # -- results -------------------------------------------------------------------------------

    def inputs(self, contexts: Iterable[str], extra_roots: Iterable[str] = ()) -> list[str]:
        """Absolute paths of every repository file the contexts depended on (sorted), plus
        :data:`WHOLE_TREE` when one of their Python children could not be followed."""
        self._local.busy = True
        try:
            roots, leaves = set(extra_roots), set()
            whole_tree = False
            for c in contexts:
                roots |= self.roots.get(c, set())
                leaves |= self.leaves.get(c, set())
                reported, files = read_children(self.spool, c)  # a child reports all it loaded: no closure
                leaves |= {p for p in files if p.startswith(DIR) or self.paths.repo(p)}
                if self.blind_children.get(c) or (self.python_children.get(c) and not reported):
                    whole_tree = True
            return sorted(self.closure(roots) | leaves) + ([WHOLE_TREE] if whole_tree else [])
        finally:
            self._local.busy = False

    def closure(self, roots: Iterable[str]) -> set[str]:
        """The modules reachable from ``roots`` over import edges, and the files those modules read."""
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            f = todo.pop()
            if f in seen:
                continue
            seen.add(f)
            nxt = self.edges.get(f)
            if nxt is None and f in self.preloaded:
                nxt = self.edges[f] = _static_imports(f, self.paths)
            todo.extend(nxt or ())
        return seen | {leaf for f in seen for leaf in self.leaf_edges.get(f, ())}


_MACHINERY = ("<frozen importlib", os.path.join("importlib", "metadata"), os.path.join("importlib", "_bootstrap"))


def _machinery(frame) -> bool:
    """A folder listed by the import system (finder caches, distribution metadata scans), not by a test."""
    name = frame.f_code.co_filename if frame is not None else ""
    return name.startswith(_MACHINERY[0]) or any(part in name for part in _MACHINERY[1:])


def _module_frame(frame, paths: _Paths):
    """The innermost frame running a repository module's top level, else the caller's frame."""
    first = frame
    depth = 0
    while frame is not None and depth < 60:
        if frame.f_code.co_name == "<module>" and paths.repo(frame.f_code.co_filename):
            return frame
        frame, depth = frame.f_back, depth + 1
    return first if first is not None and first.f_code.co_name != "<module>" else None


def _static_imports(path: str, paths: _Paths) -> set[str]:
    """Repository files a module that was loaded before the recorder started imports (from its AST)."""
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, ValueError):
        return set()
    package = _package_of(path, paths.root)
    out = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            try:
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) \
                    if node.level else node.module or ""
            except (ImportError, ValueError):
                continue
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                mod = sys.modules.get(".".join(parts[:i]))
                f = paths.repo(getattr(mod, "__file__", None) or "") if mod is not None else None
                if f and f != path:
                    out.add(f)
    return out


def _package_of(path: str, root: str) -> str:
    """The package a module's relative imports resolve against (for a/b/c.py and a/b/__init__.py: a.b)."""
    return ".".join(os.path.relpath(path, root).split(os.sep)[:-1])


def _with_first(entries: str | None, first: str) -> str:
    parts = [p for p in (entries or "").split(os.pathsep) if p]
    if first in parts:
        return os.pathsep.join(parts)
    return os.pathsep.join([first, *parts])


def _add_site_hook(env) -> None:
    """Make Python children started with ``env`` run this module's :func:`site_hook`."""
    env["PYTHONPATH"] = _with_first(env.get("PYTHONPATH"), SITE_DIR)
    env[ENV_SITE_HOOKS] = _with_first(env.get(ENV_SITE_HOOKS), os.path.abspath(__file__))


def _patch_env(env: dict, spool: str, context: str, root: str) -> None:
    try:
        env[ENV_SPOOL], env[ENV_CONTEXT], env[ENV_ROOT] = spool, context, root
        _add_site_hook(env)
    except TypeError:  # a bytes-keyed environment: leave it; the child counts as blind
        pass


def _open_spool(spool: str, context: str):
    folder = context_dir(spool, context)
    os.makedirs(folder, exist_ok=True)
    handle = open(os.path.join(folder, f"{os.getpid()}-{os.urandom(4).hex()}.txt"), "a", encoding="utf-8",  # noqa: SIM115
                  errors="surrogateescape")
    handle.write("#started\n")
    handle.flush()
    return handle


def read_children(spool: str, context: str) -> tuple[bool, set[str]]:
    """(did any child process of the context report, the absolute paths they reported)."""
    folder = context_dir(spool, context)
    out: set[str] = set()
    try:
        names = os.listdir(folder)
    except OSError:
        return False, out
    for name in names:
        try:
            with open(os.path.join(folder, name), encoding="utf-8", errors="surrogateescape") as handle:
                out.update(line.rstrip("\n") for line in handle if not line.startswith("#"))
        except OSError:
            continue
    return bool(names), out


def child_env(env: dict[str, str], spool: str, context: str, root: str) -> dict[str, str]:
    """A copy of ``env`` under which a Python child process reports what it loads (for LIVE commands)."""
    out = dict(env)
    _patch_env(out, spool, context, os.path.realpath(root))
    return out


# -- child processes (started by site_hooks/sitecustomize.py) ----------------------------------


class _ChildFinder:
    """First on ``sys.meta_path``: asks the other finders, and notes each repository module found."""

    def __init__(self, note) -> None:
        self.note = note

    def find_spec(self, name, path=None, target=None):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.origin and spec.has_location:  # not "built-in" / "frozen"
                    self.note(spec.origin)
                return spec
        return None


def site_hook() -> None:
    """In a child process (``site_hooks/sitecustomize.py``): record, for the context named in the
    environment, every repository file this process loads."""
    spool, context, root = (os.environ.get(k) for k in (ENV_SPOOL, ENV_CONTEXT, ENV_ROOT))
    if not (spool and context and root):
        return
    paths = _Paths(root)
    out = _open_spool(spool, context)
    busy = [False]

    def note(path: object, folder: bool = False) -> None:
        full = paths.repo(path, folder=folder)
        if full is None or busy[0] or not (os.path.isdir(full) if folder else os.path.isfile(full)):
            return
        full = DIR + full if folder else full
        busy[0] = True
        try:
            out.write(full + "\n")
            out.flush()
        except (OSError, ValueError):
            pass
        finally:
            busy[0] = False

    def audit(event: str, args: tuple) -> None:
        if event == "open" and not busy[0] and not isinstance(args[0], int) and _read_only(args[1], args[2]):
            note(args[0])
        elif event in ("os.listdir", "os.scandir") and not busy[0] and not isinstance(args[0], int) \
                and not _machinery(sys._getframe(1)):
            note("." if args[0] is None else args[0], folder=True)
        elif event == "subprocess.Popen" and isinstance(args[3], dict):
            _patch_env(args[3], spool, context, root)

    if sys.argv and sys.argv[0] not in ("", "-c", "-m"):
        note(sys.argv[0])
    sys.meta_path.insert(0, _ChildFinder(note))
    sys.addaudithook(audit)
