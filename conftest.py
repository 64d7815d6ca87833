"""Test session setup shared by the package tests and nbval's notebook runs.

Every test session works in a temporary workspace (``EVALUATION_HOME``) holding the demo data
snapshot, so tests never read or write the real ``data/`` and ``reports/``. Kernels started
by nbval inherit the variable and load the same snapshot.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import settings

# Property tests check behaviour, not speed (speed is measured by the benchmark scripts): no
# per-example deadline, which a loaded 2-core machine would turn into flaky failures.
settings.register_profile("evaluation", deadline=None)
settings.load_profile("evaluation")


def pytest_configure(config):
    if os.environ.get("EVALUATION_HOME"):
        return
    from evaluation.data import ensure_demo
    from evaluation.paths import paths

    home = Path(tempfile.mkdtemp(prefix="evaluation-tests-"))
    ensure_demo(root=paths(home))
    os.environ["EVALUATION_HOME"] = str(home)
    # what reports cache between processes (the parsed stylesheet) stays in the session too
    os.environ.setdefault("EVALUATION_CACHE_DIR", str(home / "cache"))
    config._evaluation_home = home


def pytest_unconfigure(config):
    home = getattr(config, "_evaluation_home", None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)
        os.environ.pop("EVALUATION_HOME", None)
        if os.environ.get("EVALUATION_CACHE_DIR") == str(home / "cache"):
            os.environ.pop("EVALUATION_CACHE_DIR")
