"""Disclosure control: moved to :mod:`evaluation.protection`; this module re-exports it.

Kept so that notebooks and code written against ``evaluation.disclosure`` keep working. The
rule, the per-table solver, the release audit, the rendering and the guard now live in the
package :mod:`evaluation.protection` (see its docstring for which file holds what).
"""

from evaluation.protection import *  # noqa: F403
from evaluation.protection import __all__  # noqa: F401
from evaluation.protection.render import _format_number  # noqa: F401
from evaluation.protection.tables import _Equation, _Suppressor  # noqa: F401
