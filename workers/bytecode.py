"""Bytecode for the workflow modules the sandbox re-executes.

Temporal's workflow sandbox executes a workflow's module afresh for every new run and every
run it replays after a cache eviction, so that no state leaks between runs. It loads the
module's cached bytecode when there is some, and otherwise compiles the source every time:
with ``PYTHONDONTWRITEBYTECODE`` set, that compilation was a fifth of a persona worker's CPU
while lives started (py-spy, ``bench/scale.py``). A worker therefore writes the bytecode of
its workflow modules once at start, under a cache directory of its own when the environment
asks for none beside the sources (``sys.pycache_prefix``, which loading honours too).
"""

from __future__ import annotations

import importlib.util
import py_compile
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

#: Where the bytecode goes when none may be written beside the sources.
CACHE_DIR = Path(tempfile.gettempdir()) / "personas-pycache"


def cache_workflow_bytecode(workflows: Iterable[type], cache_dir: Path = CACHE_DIR) -> int:
    """Write the bytecode of the modules defining ``workflows`` (how many modules);
    under ``cache_dir`` when ``sys.dont_write_bytecode`` is set and no prefix is."""
    if sys.dont_write_bytecode and sys.pycache_prefix is None:
        sys.pycache_prefix = str(cache_dir)
    sources = {getattr(sys.modules.get(w.__module__), "__file__", None) for w in workflows}
    written = 0
    for source in sorted(s for s in sources if s and s.endswith(".py")):
        py_compile.compile(source, cfile=importlib.util.cache_from_source(source), doraise=True)
        written += 1
    return written
