"""Put first on a child process's PYTHONPATH by pv, so that the processes a test or a LIVE command
starts run pv's hooks too: the inputs recorder (``pv/inputs_hook.py``, while ``pv verify`` records
what a verdict depends on) and the mutant overlay (``pv/mutate/overlay.py``, while ``pv mutate``
runs a test against a mutant).

``PV_SITE_HOOKS`` lists the hook files (``os.pathsep``-separated absolute paths). Each is loaded by
file path (nothing else of pv, no sys.path change), so any Python can run it, and its
``site_hook()`` is called. Then the ``sitecustomize`` this one shadows runs, if there is one. It
never raises: a child process must behave exactly as it would without pv.
"""

import contextlib
import importlib.machinery
import importlib.util
import os
import sys


def _run_hook(path: str) -> None:
    name = "_pv_site_hook_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.site_hook()


def _chain() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    others = [p for p in sys.path if os.path.abspath(p or ".") != here]
    shadowed = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if shadowed is not None and shadowed.loader is not None:
        shadowed.loader.exec_module(importlib.util.module_from_spec(shadowed))


for _path in dict.fromkeys(p for p in os.environ.get("PV_SITE_HOOKS", "").split(os.pathsep) if p):
    with contextlib.suppress(Exception):
        _run_hook(_path)
with contextlib.suppress(Exception):
    _chain()
