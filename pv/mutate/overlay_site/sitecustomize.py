"""Put first on a mutant run's PYTHONPATH by pv (``pv.mutate.worker``), for the processes a test starts.

A test that runs the subject in a child process (``subprocess``, ``multiprocessing``, ``torchrun``)
must meet the same mutant as the test itself. This loads ``pv/mutate/overlay.py`` by file path
(nothing else of pv), installs the overlay the environment names, then runs the ``sitecustomize``
it shadows, if there is one. It never raises: a child must behave as it would without pv.
"""

import contextlib
import importlib.machinery
import importlib.util
import os
import sys


def _start() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("_pv_mutant_overlay", os.path.join(os.path.dirname(here),
                                                                                     "overlay.py"))
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.install_from_env()
    others = [p for p in sys.path if os.path.abspath(p or ".") != here]
    shadowed = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if shadowed is not None and shadowed.loader is not None:
        shadowed.loader.exec_module(importlib.util.module_from_spec(shadowed))


with contextlib.suppress(Exception):
    _start()
