"""Warm kernels: a papermill engine that reuses one kernel per worker for many runs.

A fresh kernel per run costs about half a second to start and one to two seconds to import
pandas, statsmodels, plotly and this package again. :class:`WarmEngine` keeps one kernel per
worker (per thread, in fact: a Dask worker or a runner process with one thread has exactly
one), started once with the shared package imported (:data:`PRELOAD`), and hands it to
papermill for each run. Before every run a setup step that is not part of the executed
notebook

* empties the namespace (``%reset -f``; the execution counter restarts at 1),
* applies the worker's current ``EVALUATION_*`` environment variables inside the kernel
  (the runner sets the run's id, staging folder, report mode, home and run key in the
  worker's ``os.environ`` before it calls papermill) and removes those the worker no longer
  has,
* changes into the folder papermill runs the notebook in (its ``cwd``),
* removes the disclosure guard's display formatters
  (:func:`evaluation.protection.guard.guard_dataframes` ``(False)``) and restores plotly's
  default renderer and template, the warning filters and ``sys.path`` as they were after
  the preload.

A kernel is replaced when a run failed in any way (an error in a cell, a dead kernel, a
timeout, a failed setup), when it has served ``max_runs`` runs (default 20,
``EVALUATION_WARM_MAX_RUNS``) or when its resident memory grew past ``max_rss_mb``
(default 2048 MiB, ``EVALUATION_WARM_MAX_RSS_MB``). Cold runs stay available: papermill's
default engine (``engine_name=None``) starts a fresh kernel per run.

Importing this module registers the engine with papermill as ``"warm"``::

    import evaluation.engines
    papermill.execute_notebook(src, out, parameters=..., engine_name="warm")

or use :func:`execute_notebook`, which does the same.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import threading
import time
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ---- start-up: an import that costs two seconds and is (almost) never used ---------------

LAZY_MODULE = "rfc3987_syntax"
"""jsonschema (imported by nbformat, hence by papermill, nbconvert and plotly's notebook
renderers) imports this IRI checker when it is installed, and the checker builds a Lark
grammar at import time: about 2 s of CPU in every worker process and every kernel (jsonschema
issue 1428). It is only needed to validate the ``iri`` and ``iri-reference`` formats, which
no notebook schema uses; :func:`defer_slow_imports` makes it load on first use instead."""


class _DeferredModule(types.ModuleType):
    """Stands in for :data:`LAZY_MODULE` until something uses it; then the real module is
    imported (and replaces this one in ``sys.modules``) and does the work."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_load_deferred(self.__name__), name)


def _load_deferred(name: str) -> types.ModuleType:
    import importlib

    if isinstance(sys.modules.get(name), _DeferredModule):
        del sys.modules[name]
    return importlib.import_module(name)


def _deferred_function(module: str, name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(_load_deferred(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def defer_slow_imports() -> bool:
    """Make :data:`LAZY_MODULE` load on first use (the same checks, two seconds later or
    never). Does nothing when it is not installed or is already imported; returns whether the
    stand-in is in place. Called when this module is imported (worker and kernel alike),
    before papermill pulls in jsonschema."""
    import importlib.util

    if LAZY_MODULE in sys.modules:
        return isinstance(sys.modules[LAZY_MODULE], _DeferredModule)
    try:
        if importlib.util.find_spec(LAZY_MODULE) is None:
            return False
    except (ImportError, ValueError):
        return False
    stand_in = _DeferredModule(LAZY_MODULE, "loaded on first use by evaluation.engines")
    stand_in.is_valid_syntax = _deferred_function(LAZY_MODULE, "is_valid_syntax")  # type: ignore[attr-defined]
    sys.modules[LAZY_MODULE] = stand_in
    return True


defer_slow_imports()

from papermill.clientwrap import PapermillNotebookClient  # noqa: E402 - after the stand-in
from papermill.engines import Engine, papermill_engines  # noqa: E402

ENGINE_NAME = "warm"
ENV_MAX_RUNS = "EVALUATION_WARM_MAX_RUNS"
ENV_MAX_RSS_MB = "EVALUATION_WARM_MAX_RSS_MB"
ENV_PREFIX = "EVALUATION_"
DEFAULT_MAX_RUNS = 20
DEFAULT_MAX_RSS_MB = 2048

PRELOAD: tuple[str, ...] = (
    "numpy",
    "pandas",
    "scipy.stats",
    "statsmodels.api",
    "plotly.graph_objects",
    "plotly.io",
    "evaluation",
    "evaluation.notebook",
    "evaluation.plots",
    "evaluation.protection",
    "evaluation.views",
    "evaluation.estimators",
    "evaluation.indicators",
)
"""Modules imported once when a warm kernel starts (missing ones are skipped)."""

# ---- code that runs inside the kernel -------------------------------------------------

_KERNEL_STATE: dict[str, Any] = {}
"""Inside a warm kernel: the state right after the preload, restored before every run."""


def preload_kernel(modules: list[str]) -> list[str]:
    """Inside the kernel: import ``modules`` and remember the clean state.

    Returns the modules that could not be imported (they are imported by the notebook
    itself if it needs them).
    """
    import importlib

    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    try:
        import plotly.io as pio

        # the renderers pull in nbformat and jsonschema; touch them once, here
        _KERNEL_STATE["renderer"] = pio.renderers.default
        _KERNEL_STATE["template"] = pio.templates.default
    except ImportError:
        pass
    _KERNEL_STATE["filters"] = list(warnings.filters)
    _KERNEL_STATE["path"] = list(sys.path)
    return missing


def prepare_kernel_for_run(environment: dict[str, str], cwd: str) -> None:
    """Inside the kernel, after ``%reset -f``: the run's environment, folder and clean state."""
    for key in [k for k in os.environ if k.startswith(ENV_PREFIX) and k not in environment]:
        del os.environ[key]
    os.environ.update(environment)
    os.chdir(cwd)
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.execution_count = 1  # as in a fresh kernel (``%reset`` keeps the counter)
        shell.history_manager.reset(new_session=True)
    try:
        from evaluation.protection.guard import guard_dataframes

        guard_dataframes(False)
    except ImportError:
        pass
    if "renderer" in _KERNEL_STATE:
        import plotly.io as pio

        pio.renderers.default = _KERNEL_STATE["renderer"]
        pio.templates.default = _KERNEL_STATE["template"]
    if "filters" in _KERNEL_STATE:
        warnings.filters[:] = _KERNEL_STATE["filters"]
        sys.path[:] = _KERNEL_STATE["path"]


def _preload_code(modules: tuple[str, ...]) -> str:
    return (
        "__import__('evaluation.engines', fromlist=['_']).preload_kernel("
        f"{json.dumps(list(modules))})\n"
        "get_ipython().run_line_magic('reset', '-f')\n"
    )


def _setup_code(environment: dict[str, str], cwd: str) -> str:
    # nothing is bound in the user namespace: the run starts from an empty one. The folder
    # first: ``%reset`` reads the current folder, which an earlier run may have removed
    # (a remote worker's temporary workspace)
    return (
        f"__import__('os').chdir({json.dumps(cwd)})\n"
        "get_ipython().run_line_magic('reset', '-f')\n"
        "__import__('evaluation.engines', fromlist=['_']).prepare_kernel_for_run("
        f"{json.dumps(environment)}, {json.dumps(cwd)})\n"
    )


# ---- the worker side ------------------------------------------------------------------


class KernelSetupError(RuntimeError):
    """A warm kernel could not be prepared (preload or per-run setup failed)."""


class KernelStartError(KernelSetupError):
    """A new kernel died or did not answer before it was ready (e.g. its port was taken by
    another process between being chosen and bound: jupyter_client's port race)."""


START_ATTEMPTS = 3
"""How often a kernel is started before its run fails (each attempt on new ports)."""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise ValueError(f"{name}={value!r}: not a whole number") from None


def _rss_bytes(pid: int) -> int:
    """Resident memory of a process: psutil when installed, else ``/proc``; 0 if unknown."""
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
    except ImportError:
        pass
    except Exception:
        return 0
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _kernel_log(number: int) -> Any:
    """Open the log file of this worker's ``number``-th warm kernel (or the null device)."""
    try:
        from evaluation.paths import paths

        folder = paths().logs
        folder.mkdir(parents=True, exist_ok=True)
        return open(folder / f"warm-kernel-{os.getpid()}-{number}.log", "ab")  # noqa: SIM115
    except Exception:
        return open(os.devnull, "wb")  # noqa: SIM115


@dataclass
class WarmKernel:
    """One kernel kept alive for many runs."""

    kernel_name: str
    manager: Any
    started_at: float = field(default_factory=time.monotonic)
    runs: int = 0
    missing: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        """Process id of the kernel, if it is known."""
        provisioner = getattr(self.manager, "provisioner", None)
        pid = getattr(provisioner, "pid", None)
        if pid is None:
            process = getattr(provisioner, "process", None)
            pid = getattr(process, "pid", None)
        return pid

    def rss_mb(self) -> float:
        """Resident memory of the kernel process in MiB (0 when unknown)."""
        pid = self.pid
        return _rss_bytes(pid) / 2**20 if pid else 0.0

    def alive(self) -> bool:
        """Whether the kernel process still runs."""
        from jupyter_core.utils import run_sync

        try:
            return bool(run_sync(self.manager.is_alive)())
        except Exception:
            return False

    def shutdown(self) -> None:
        """Kill the kernel at once and release its ports and files."""
        from jupyter_core.utils import run_sync

        with contextlib.suppress(Exception):
            run_sync(self.manager.shutdown_kernel)(now=True)
        with contextlib.suppress(Exception):
            run_sync(self.manager.cleanup_resources)()


@dataclass
class KernelPool:
    """The warm kernel of one worker thread, with the rules for replacing it."""

    max_runs: int = DEFAULT_MAX_RUNS
    max_rss_mb: float = DEFAULT_MAX_RSS_MB
    preload: tuple[str, ...] = PRELOAD
    kernel: WarmKernel | None = None
    started: int = 0
    """Kernels started by this pool so far."""
    retired: list[str] = field(default_factory=list)
    """Why each earlier kernel was replaced (``failed``, ``runs``, ``memory``, ``dead``)."""

    def acquire(self, kernel_name: str, startup_timeout: float = 60) -> WarmKernel:
        """The warm kernel for ``kernel_name``, started (with the preload) when needed."""
        kernel = self.kernel
        if kernel is not None and (kernel.kernel_name != kernel_name or not kernel.alive()):
            self.retire("dead" if kernel.kernel_name == kernel_name else "kernel name")
            kernel = None
        if kernel is None:
            kernel = self._start(kernel_name, startup_timeout)
            self.kernel = kernel
        return kernel

    def release(self, kernel: WarmKernel, healthy: bool) -> None:
        """After a run: keep the kernel, or replace it on the next run."""
        kernel.runs += 1
        if not healthy:
            self.retire("failed")
        elif kernel.runs >= self.max_runs:
            self.retire("runs")
        elif self.max_rss_mb and kernel.rss_mb() > self.max_rss_mb:
            self.retire("memory")

    def retire(self, reason: str) -> None:
        """Shut the current kernel down (the next run starts a new one)."""
        if self.kernel is not None:
            self.kernel.shutdown()
            self.retired.append(reason)
            self.kernel = None

    def _start(self, kernel_name: str, startup_timeout: float) -> WarmKernel:
        """A new warm kernel; a start that fails is tried again (:data:`START_ATTEMPTS`)."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                return self._start_once(kernel_name, startup_timeout)
            except KernelStartError as exc:
                if attempt == START_ATTEMPTS:
                    raise
                self.retired.append(f"start failed, tried again: {exc}")
        raise AssertionError("unreachable")

    def _start_once(self, kernel_name: str, startup_timeout: float) -> WarmKernel:
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        manager = AsyncKernelManager(kernel_name=kernel_name)
        # the kernel outlives the run that started it: its own low-level output goes to a
        # log file of its own, not to that run's log (cell output is in the notebook)
        log = _kernel_log(self.started + 1)
        try:
            # like papermill's own kernels, plus no history database: the execution counter
            # is reset before every run and would repeat line numbers in it
            run_sync(manager.start_kernel)(
                cwd=os.getcwd(),
                stdout=log,
                stderr=log,
                extra_arguments=[
                    "--HistoryManager.hist_file=:memory:",
                    "--HistoryManager.enabled=False",
                ],
            )
        finally:
            log.close()  # the kernel holds its own copy
        kernel = WarmKernel(kernel_name, manager)
        self.started += 1
        client = manager.blocking_client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=startup_timeout)
            reply = client.execute_interactive(
                _preload_code(self.preload),
                silent=True,
                store_history=False,
                timeout=max(startup_timeout, 120),
            )
        except Exception as exc:
            kernel.shutdown()
            raise KernelStartError(f"warm kernel did not start: {exc}") from exc
        finally:
            client.stop_channels()
        if reply["content"].get("status") != "ok":
            kernel.shutdown()
            content = reply["content"]
            raise KernelSetupError(
                f"warm kernel preload failed: {content.get('ename')}: {content.get('evalue')}"
            )
        return kernel


_LOCAL = threading.local()
_POOLS: list[KernelPool] = []
_POOLS_LOCK = threading.Lock()


def new_pool(**limits: Any) -> KernelPool:
    """Replace this thread's kernel pool (its kernel is shut down) by one with ``limits``.

    Parameters
    ----------
    **limits
        ``max_runs``, ``max_rss_mb`` or ``preload`` of :class:`KernelPool`; the others come
        from the environment as in :func:`pool`.
    """
    old = getattr(_LOCAL, "pool", None)
    if old is not None:
        old.retire("replaced")
    settings = dict(limits)
    if "max_runs" not in settings:
        settings["max_runs"] = max(1, _env_int(ENV_MAX_RUNS, DEFAULT_MAX_RUNS))
    if "max_rss_mb" not in settings:
        settings["max_rss_mb"] = _env_int(ENV_MAX_RSS_MB, DEFAULT_MAX_RSS_MB)
    current = KernelPool(**settings)
    _LOCAL.pool = current
    with _POOLS_LOCK:
        if old in _POOLS:
            _POOLS.remove(old)
        _POOLS.append(current)
    return current


def pool() -> KernelPool:
    """This thread's kernel pool (created on first use from the environment's limits)."""
    current = getattr(_LOCAL, "pool", None)
    return current if current is not None else new_pool()


@atexit.register
def shutdown_all() -> None:
    """Shut down every warm kernel of this process (also run at exit)."""
    with _POOLS_LOCK:
        for each in _POOLS:
            each.retire("exit")


class WarmNotebookClient(PapermillNotebookClient):
    """Papermill's notebook client with the per-run setup of a warm kernel first."""

    def __init__(self, nb_man: Any, *, setup_code: str, **kw: Any) -> None:
        super().__init__(nb_man, **kw)
        self.setup_code = setup_code

    def papermill_execute_cells(self) -> None:
        """Prepare the kernel for this run (silently, nothing recorded), then the cells."""
        assert self.kc is not None
        msg_id = self.kc.execute(self.setup_code, silent=True, store_history=False)
        reply = self.wait_for_reply(msg_id)
        content = (reply or {}).get("content", {})
        if content.get("status") != "ok":
            raise KernelSetupError(
                f"warm kernel setup failed: {content.get('ename')}: {content.get('evalue')}"
            )
        super().papermill_execute_cells()


def _has_error(nb: Any) -> bool:
    return any(
        output.get("output_type") == "error"
        for cell in nb.cells
        if cell.get("cell_type") == "code"
        for output in cell.get("outputs", [])
    )


def run_environment() -> dict[str, str]:
    """The worker's ``EVALUATION_*`` variables, which the kernel gets before each run."""
    return {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}


class WarmEngine(Engine):
    """Papermill engine running notebooks on this worker's warm kernel."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: float = 60,
        execution_timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """Execute the notebook of ``nb_man`` on the warm kernel (see the module docstring)."""
        kwargs.pop("input_path", None)
        for name in ("timeout", "startup_timeout", "km", "shutdown_kernel"):
            kwargs.pop(name, None)
        workers = pool()
        kernel = workers.acquire(kernel_name, start_timeout)
        client = WarmNotebookClient(
            nb_man,
            km=kernel.manager,
            setup_code=_setup_code(run_environment(), os.getcwd()),
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
            **kwargs,
        )
        healthy = False
        try:
            nb = client.execute()
            healthy = not _has_error(nb) and kernel.alive()
            return nb
        finally:
            if client.kc is not None:
                with contextlib.suppress(Exception):
                    client.kc.stop_channels()
                client.kc = None
            workers.release(kernel, healthy)


papermill_engines.register(ENGINE_NAME, WarmEngine)


def use_warm_kernels(enabled: bool = True) -> None:
    """Make the warm engine papermill's default in this process (``False``: the cold one).

    The runner's :func:`evaluation.execute.execute` calls papermill without an engine name;
    after this call its runs in this process use the warm kernel.
    """
    from papermill.engines import NBClientEngine

    papermill_engines.register(None, WarmEngine if enabled else NBClientEngine)


def execute_warm(job: Any) -> Any:
    """Executor for :func:`evaluation.runner.run_plan`: :func:`evaluation.execute.execute`
    on this worker's warm kernel (``run_plan(executor=execute_warm)``).

    Parameters
    ----------
    job
        An :class:`evaluation.execute.Job`.

    Returns
    -------
    evaluation.execute.Outcome
        What happened to the run, as from :func:`evaluation.execute.execute`.
    """
    from evaluation import execute

    use_warm_kernels(True)
    return execute.execute(job)


def execute_notebook(
    input_path: str | Path,
    output_path: str | Path,
    *,
    engine_name: str | None = ENGINE_NAME,
    **kwargs: Any,
) -> Any:
    """:func:`papermill.execute_notebook` on a warm kernel (``engine_name=None``: a fresh one).

    Parameters
    ----------
    input_path, output_path
        Notebook to run and where to write the executed copy.
    engine_name
        ``"warm"`` (default) or ``None`` / ``"nbclient"`` for papermill's cold engine.
    **kwargs
        Everything else :func:`papermill.execute_notebook` accepts.

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook.
    """
    import papermill as pm

    return pm.execute_notebook(str(input_path), str(output_path), engine_name=engine_name, **kwargs)
