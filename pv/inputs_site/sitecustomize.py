"""Put first on a child process's PYTHONPATH by pv (``pv.inputs_hook``) while it records inputs.

It loads ``pv/inputs_hook.py`` by file path (nothing else of pv, no sys.path change), so any
Python can run it, and records the repository files this process loads for the context named in
the environment. Then it runs the ``sitecustomize`` it shadows, if there is one. It never raises:
a child process must behave exactly as it would without pv.
"""

import contextlib
import importlib.machinery
import importlib.util
import os
import sys


def _start() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("_pv_inputs_hook", os.path.join(os.path.dirname(here),
                                                                                  "inputs_hook.py"))
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.start_child()
    others = [p for p in sys.path if os.path.abspath(p or ".") != here]
    shadowed = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if shadowed is not None and shadowed.loader is not None:
        shadowed.loader.exec_module(importlib.util.module_from_spec(shadowed))


with contextlib.suppress(Exception):
    _start()
