"""The guard: in a scheduled run, no raw pandas table reaches a report."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from evaluation.protection.render import ColumnFormat, DisclosedTable
from evaluation.protection.rule import _NOTICE, DisclosureError, Language, SuppressionRule

# --------------------------------------------------------------------------------------------
# Notebook guard
# --------------------------------------------------------------------------------------------

_SAVED_PRINTERS: dict[tuple[int, str, type], Any] = {}


def _ipython_shell() -> Any:
    try:
        import IPython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return None
    return IPython.get_ipython()


def _guarded_types() -> tuple[type, ...]:
    types: list[type] = [pd.DataFrame, pd.Series]
    try:
        from pandas.io.formats.style import Styler
    except ImportError:  # pragma: no cover - Styler needs jinja2
        pass
    else:
        types.append(Styler)
    return tuple(types)


def _blocking_printer(mime: str, language: Language, strict: bool) -> Callable[..., Any]:
    notice = _NOTICE[language]
    if mime == "text/plain":

        def plain(obj: Any, printer: Any, cycle: bool) -> None:
            printer.text(notice)

        return plain
    if mime == "text/html":

        def html(obj: Any) -> str:
            if strict:
                raise DisclosureError(notice)
            return f'<p class="disclosure-blocked"><em>{escape(notice)}</em></p>'

        return html
    return lambda obj: None


def guard_dataframes(
    enabled: bool = True, *, language: Language = "de", strict: bool = False
) -> bool:
    """Stop the current IPython session from displaying raw pandas tables.

    Registers display formatters for ``DataFrame``, ``Series`` and ``Styler`` that show a
    short notice instead of the data, in every output format (HTML, plain text, LaTeX, ...).
    Tables must then be shown as :class:`DisclosedTable`. The guard catches accidental
    display (a frame as the last expression, ``display(df)``); it cannot stop deliberate
    bypasses such as ``print(df)`` or ``HTML(df.to_html())``.

    Parameters
    ----------
    enabled
        ``True`` installs the guard, ``False`` restores the previous formatters.
    language
        Language of the notice.
    strict
        Raise :class:`DisclosureError` from the HTML formatter instead of showing the notice.
        IPython reports it as an error output, which makes a papermill run fail.

    Returns
    -------
    bool
        Whether an IPython session was found; outside IPython this is a no-op returning False.
    """
    shell = _ipython_shell()
    if shell is None:
        return False
    if language not in _NOTICE:
        raise ValueError(f"language must be 'de' or 'en', got {language!r}")
    for mime, formatter in shell.display_formatter.formatters.items():
        for typ in _guarded_types():
            key = (id(shell), mime, typ)
            if enabled:
                previous = formatter.for_type(typ, _blocking_printer(mime, language, strict))
                _SAVED_PRINTERS.setdefault(key, previous)
            elif key in _SAVED_PRINTERS:
                previous = _SAVED_PRINTERS.pop(key)
                if previous is None:
                    formatter.pop(typ, None)
                else:
                    formatter.for_type(typ, previous)
    return True


def published(
    frame: pd.DataFrame,
    *,
    rule: SuppressionRule | None = None,
    percent: Sequence[str] = (),
    decimals: int | Mapping[str, int] = 1,
    caption: str | None = None,
    language: Language = "de",
) -> DisclosedTable:
    """A table of figures about no individual person, shown as it is.

    For already published statistics (the city's open data), row counts of the data
    quality check, inputs such as staff and funding, and texts; never for counts of
    persons from case data (use :func:`suppress_frame` or :func:`suppress_table`). Numeric
    columns are formatted like other tables; ``percent`` columns hold proportions.
    """
    rule = rule or SuppressionRule()
    values = frame.copy() if isinstance(frame.index, pd.RangeIndex) else frame.reset_index()
    formats = []
    for column in values.columns:
        series = values[column]
        places = decimals.get(column, 1) if isinstance(decimals, Mapping) else decimals
        if column in percent:
            formats.append(ColumnFormat(kind="share", decimals=places))
        elif pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series):
            formats.append(ColumnFormat(kind="count"))
        elif pd.api.types.is_float_dtype(series):
            formats.append(ColumnFormat(kind="value", decimals=places))
        else:
            values[column] = series.map(
                lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
            )
            formats.append(ColumnFormat(kind="label"))
    hidden = pd.DataFrame(False, index=values.index, columns=values.columns)
    return DisclosedTable(
        values=values,
        mask=hidden,
        primary_mask=hidden,
        rule=rule,
        formats=tuple(formats),
        language=language,
        caption=caption,
    )
