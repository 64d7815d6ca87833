"""What a notebook calls: one context per run with data, display and recording.

A notebook starts with its ``parameters`` cell and then::

    from evaluation.notebook import start
    ctx = start(period_start=period_start, period_end=period_end, agency=agency,
                snapshot=snapshot, language=language,
                suppression_threshold=suppression_threshold)

The context loads tables from the data snapshot, shows tables only through disclosure
control, shows charts in the house style, and records headline figures into the results
history. Run by the runner (report mode), raw DataFrames cannot be displayed at all, and the
recorded figures are committed to the history only if the whole run succeeds. Run
interactively in JupyterLab, nothing is written: :meth:`Context.record` collects the figures
so the evaluator can look at them.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from evaluation import data, labels, plots
from evaluation.execute import ENV_REPORT_MODE, ENV_RUN_DIR, ENV_RUN_ID, FIGURES_FILE
from evaluation.plan import CADENCES, Period
from evaluation.protection import (
    DisclosedTable,
    SuppressionRule,
    guard_dataframes,
    published,
    suppress_frame,
    suppress_table,
)
from evaluation.protection.model import Cell
from evaluation.protection.release import (
    ENV_RUN_KEY,
    Publisher,
    ReleaseError,
    force_frame,
    frame_cells,
    long_grid,
)
from evaluation.protection.tables import _Grid

Language = Literal["de", "en"]


def period_of(start: date, end: date) -> Period:
    """The calendar period ``[start, end]`` is, or a free period labelled by its dates."""
    for cadence in CADENCES:
        candidate = Period.containing(start, cadence)  # type: ignore[arg-type]
        if candidate.start == start and candidate.end == end:
            return candidate
    return Period(start, end, f"{start.isoformat()}–{end.isoformat()}")


@dataclass
class Context:
    """A notebook run: its period, data snapshot, language and suppression rule."""

    period: Period
    agency: str
    snapshot: str
    language: Language
    rule: SuppressionRule
    report_mode: bool
    run_id: str | None
    run_dir: Path | None
    figures: list[dict[str, Any]] = field(default_factory=list)
    publisher: Publisher | None = None
    _tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    # ---- data -------------------------------------------------------------------------
    @property
    def snapshot_info(self) -> data.SnapshotInfo:
        return data.snapshot_info(self.snapshot)

    @property
    def data_end(self) -> date:
        """Last day the data covers (demo: its as-of date; otherwise the snapshot date)."""
        source = self.snapshot_info.manifest.get("source", {})
        value = source.get("as_of") or self.snapshot_info.manifest.get("created_at", "")[:10]
        return date.fromisoformat(value)

    def table(self, name: str) -> pd.DataFrame:
        """A table of the snapshot (loaded once per run)."""
        if name not in self._tables:
            self._tables[name] = data.load(name, snapshot=self.snapshot)
        return self._tables[name].copy()

    # ---- words --------------------------------------------------------------------------
    def t(self, key: str) -> str:
        """A reader-facing word (see :data:`evaluation.labels.TERMS`)."""
        return labels.term(key, self.language)

    def label(self, codes: dict[str, tuple[str, str]], code: str) -> str:
        """The reader-facing label of a code."""
        return labels.label(code, codes, self.language)

    def relabel(
        self, frame: pd.DataFrame, columns: dict[str, dict[str, tuple[str, str]]]
    ) -> pd.DataFrame:
        """Replace codes by labels in the given columns or index levels."""
        out = frame.copy()
        for column, codes in columns.items():
            mapping = {**labels.labels_for(codes, self.language), "total": self.t("total")}
            if column in out.columns:
                out[column] = out[column].map(lambda v, m=mapping: m.get(v, v))
            elif column in (out.index.names or []):
                out = out.rename(index=mapping, level=column if out.index.nlevels > 1 else None)
        return out

    def reader_columns(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Rename columns and index names that have a reader-facing term."""
        out = frame.rename(columns=labels.terms_for(frame.columns, self.language))
        names = [labels.term(n, self.language) if n in labels.TERMS else n for n in out.index.names]
        return out.rename_axis(names)

    # ---- display ------------------------------------------------------------------------
    def show(self, table: DisclosedTable) -> None:
        """Display a protected table (the only way tables reach readers).

        Returns nothing, so that a ``ctx.show(...)`` at the end of a cell is not shown twice.
        """
        from IPython.display import display

        if not isinstance(table, DisclosedTable):
            raise TypeError(
                "only tables that passed disclosure control can be shown (see evaluation.disclosure)"
            )
        display(table)

    def counts_table(
        self,
        counts: pd.DataFrame | pd.Series,
        *,
        caption: str,
        margins: bool = True,
        units: pd.DataFrame | None = None,
    ) -> DisclosedTable:
        """Protect and display a table of counts (see :func:`evaluation.protection.suppress_table`).

        The table is audited with everything else published to the same readers
        (:mod:`evaluation.protection.release`) before it is shown. ``units`` ties its cells to
        the units they count: one row per unit and cell membership, with the columns ``unit``,
        ``row`` and ``column`` (labels as in the table) and ``n`` (true); without it the
        cells are linked only by the table's own sums.
        """
        total = self.t("total")
        frame = (
            counts.to_frame(name=counts.name or "Anzahl")
            if isinstance(counts, pd.Series)
            else counts
        )
        grid = _Grid.build(frame, total, margins).frame

        def build(extra: set[tuple[str, ...]]) -> DisclosedTable:
            force = _grid_cells(grid, total, extra) if extra else None
            return suppress_table(
                frame,
                rule=self.rule,
                margins=margins,
                caption=caption,
                language=self.language,
                total_label=total,
                force=force,
            )

        def cells(name: str, table: DisclosedTable) -> Any:
            true = grid.loc[table.values.index, table.values.columns]
            long = long_grid(true, total)
            hidden = long_grid(table.mask.astype(int), total)[["n"]].astype(bool)
            return frame_cells(
                name,
                long,
                hidden,
                counts=["n"],
                keys=["row", "column"],
                partitions=["row", "column"],
                total_label=total,
                units=units,
            )

        def reveal(table: DisclosedTable, keys: set[tuple[str, ...]]) -> DisclosedTable:
            if not keys:
                return table
            true = grid.loc[table.values.index, table.values.columns]
            return _show_cells(table, true, _grid_cells(true, total, keys))

        table = self._release(caption, build, cells, reveal)
        self.show(table)
        return table

    def indicator_table(
        self,
        frame: pd.DataFrame,
        *,
        caption: str,
        hide: list[str] | tuple[str, ...] = (),
        units: pd.DataFrame | None = None,
        **options: Any,
    ) -> DisclosedTable:
        """Protect and display an indicator table; return the whole protected table.

        ``options`` go to :func:`evaluation.protection.suppress_frame`. Columns in ``hide``
        take part in the protection (e.g. numerators of shares, interval bounds) but are not
        displayed; the returned table still has them, for charts. Numerators count as
        published wherever their share is shown. The table is audited with everything else
        published to the same readers before it is shown; ``units`` ties its count cells to
        the units they count (one row per unit: ``unit``, the key columns with the table's
        labels, and one boolean column per count column).
        """
        options.setdefault("total_label", self.t("total"))
        total = options["total_label"]
        within = options.get("complementary_within") or ()
        partitions = [within] if isinstance(within, str) else list(within)

        keys: list[str] = []

        def build(extra: set[tuple[str, ...]]) -> DisclosedTable:
            if extra and not keys:
                keys.extend(_key_columns(suppress_frame(frame, rule=self.rule, **options)))
            force = force_frame(frame, keys, extra) if extra else None
            return suppress_frame(
                frame,
                rule=self.rule,
                caption=caption,
                language=self.language,
                force=force,
                **options,
            )

        def cells(name: str, table: DisclosedTable) -> Any:
            counts = [
                c
                for c, f in zip(table.values.columns, table.formats, strict=True)
                if f.kind == "count"
            ]
            return frame_cells(
                name,
                frame,
                table.mask,
                counts=counts,
                keys=_key_columns(table),
                partitions=partitions,
                total_label=total,
                units=units,
            )

        def reveal(table: DisclosedTable, which: set[tuple[str, ...]]) -> DisclosedTable:
            if not which:
                return table
            where = force_frame(frame, _key_columns(table), which)
            return _show_cells(table, frame, where)

        table = self._release(caption, build, cells, reveal)
        self.show(table.drop(list(hide)) if hide else table)
        return table

    def table_id(self, caption: str) -> str:
        """The name of a published table in the release: run key and caption."""
        key = self.publisher.run_key if self.publisher else None
        return f"{key}: {caption}" if key else caption

    def _release(self, caption: str, build: Any, cells: Any, reveal: Any) -> DisclosedTable:
        """Per-table protection and the release audit, repeated until both pass.

        Each round protects the table with the cells the audit asked to hide so far
        (``extra``, less those it showed again: ``shown``) and audits it with the release.
        A cell that was shown again and is then asked to be hidden once more (the per-table
        pattern changed, or another run staged tables meanwhile) stays hidden for good
        (``withdrawn``). Every round therefore adds a key to ``extra``, to ``shown`` or to
        ``withdrawn``, each at most once, so the rounds end.
        """
        publisher = self.publisher
        name = self.table_id(caption)
        extra: set[tuple[str, ...]] = set(publisher.remembered(name)) if publisher else set()
        shown: set[tuple[str, ...]] = set()
        withdrawn: set[tuple[str, ...]] = set()
        began, programmes = time.perf_counter(), 0
        rounds = 0
        while True:
            table = reveal(build(extra - shown), shown)
            if publisher is None:
                return table
            found, weights = cells(name, table)
            rounds += 1
            if rounds > 3 * len(found) + 3:  # more than every key can make progress
                raise ReleaseError(f"Geheimhaltung: Tabelle {caption!r} ließ sich nicht schützen")
            added, result = publisher.release(found, weights, keep_hidden=withdrawn)
            programmes += result.programmes
            again = {c.key for c in added} & shown
            shown -= again
            withdrawn |= again
            shown |= {c.key for c in result.revealed}
            if not added and not result.revealed:
                table = replace(table, release_mask=_release_mask(table, build, extra - shown))
                publisher.note_table(
                    name,
                    release_hidden=table.release_hidden,
                    seconds=time.perf_counter() - began,
                    programmes=programmes,
                )
                return table
            extra |= {c.key for c in added}

    def published_table(self, frame: pd.DataFrame, *, caption: str, **options: Any) -> None:
        """Display figures about no individual person (official statistics, row counts, inputs).

        See :func:`evaluation.disclosure.published`; counts of persons from case data must go
        through :meth:`indicator_table` or :meth:`counts_table` instead.
        """
        self.show(
            published(frame, rule=self.rule, caption=caption, language=self.language, **options)
        )

    def chart(self, fig: Any) -> None:
        """Display a plotly figure."""
        from IPython.display import display

        display(fig)

    def definition(self, text: str) -> None:
        """Display a definition box beside a figure (markdown allowed)."""
        import mistune
        from IPython.display import HTML, display

        display(HTML(f'<div class="definition">{mistune.html(text)}</div>'))

    def paragraph(self, text: str) -> None:
        """Display narrative text (markdown) that depends on the run, e.g. from a parameter."""
        import mistune
        from IPython.display import HTML, display

        display(HTML(mistune.html(text)))

    def heading(self, text: str, level: int = 2) -> None:
        """Display a section heading (it appears in the report's table of contents)."""
        from IPython.display import Markdown, display

        display(Markdown(f"{'#' * level} {text}"))

    # ---- history ------------------------------------------------------------------------
    def record(
        self,
        indicator_id: str,
        value: float | None,
        *,
        n: int | None = None,
        ci: tuple[float | None, float | None] = (None, None),
        group: tuple[str, str] = ("", ""),
        suppressed: bool | None = None,
    ) -> None:
        """Record one headline figure for this period.

        ``suppressed`` defaults to ``n`` being below the suppression threshold; suppressed
        figures are stored without value, n and interval.
        """
        if suppressed is None:
            suppressed = bool(n is not None and 0 < n < self.rule.threshold)
        self.figures.append(
            {
                "indicator_id": indicator_id,
                "period": self.period.label,
                "period_start": self.period.start.isoformat(),
                "period_end": self.period.end.isoformat(),
                "group_var": group[0],
                "group_value": group[1],
                "value": None if value is None or pd.isna(value) else float(value),
                "n": None if n is None or pd.isna(n) else int(n),
                "ci_low": None if ci[0] is None or pd.isna(ci[0]) else float(ci[0]),
                "ci_high": None if ci[1] is None or pd.isna(ci[1]) else float(ci[1]),
                "suppressed": bool(suppressed),
            }
        )
        self._flush()

    def record_frame(
        self,
        frame: pd.DataFrame,
        indicator_id: str,
        *,
        value: str,
        n: str | None = None,
        ci: tuple[str, str] | None = None,
        group_var: str = "",
    ) -> None:
        """Record one figure per row of ``frame``; the index gives the group value.

        A whole-population figure of a catalogued indicator joins the run's release as
        :meth:`record_indicator`'s do.
        """
        for key, row in frame.iterrows():
            group_value = "" if key == "total" or not group_var else str(key)
            self.record(
                indicator_id,
                row[value],
                n=row[n] if n else None,
                ci=(row[ci[0]], row[ci[1]]) if ci else (None, None),
                group=(group_var if group_value else "", group_value),
            )
        from evaluation.indicators import catalogue

        if indicator_id in catalogue.load_catalogue():
            self._release_figure(indicator_id)

    def record_indicator(self, indicator_id: str, *, group_by: str | None = None) -> pd.DataFrame:
        """Compute a catalogued indicator for this period, record it, and return it.

        The whole-population figure is what the annual report publishes later; its counts
        (n, and the numerator of a share) join this run's release tied to their units, so
        the release audit protects it together with the run's tables. A figure the audit
        must hide is recorded as suppressed.
        """
        from evaluation.indicators import catalogue

        result = catalogue.record_indicator(self, indicator_id, group_by=group_by)
        self._release_figure(indicator_id)
        return result

    def _release_figure(self, indicator_id: str) -> None:
        from evaluation.indicators import catalogue

        entry = catalogue.load_catalogue().get(indicator_id)
        if self.publisher is None or not entry.sensitive or entry.compute is None:
            return
        figure = next(
            (
                f
                for f in reversed(self.figures)
                if f["indicator_id"] == indicator_id and not f["group_var"]
            ),
            None,
        )
        if figure is None or figure["suppressed"]:
            return
        units = catalogue.unit_frame(entry, self.table, period=self.period, data_end=self.data_end)
        ids = figure_unit_ids(units, distinct=entry.kind == "count")
        if ids is None:
            return
        table = self.table_id(f"Kennzahl {indicator_id}")
        cells = [Cell(table, ("n",), int(len(ids)), frozenset(ids))]
        if "numerator" in units.columns:
            hit = units["numerator"].fillna(0).astype(bool).to_numpy()
            cells.append(Cell(table, ("numerator",), int(hit.sum()), frozenset(ids[hit])))
        if figure["n"] is not None and int(figure["n"]) != cells[0].value:
            return  # n counts something else than the rows (e.g. distinct persons)
        keys = frozenset(c.key for c in cells)
        for _ in range(3):
            # once hidden, the figure stays hidden as a whole (shown again, it would go back
            # and forth)
            hidden = keys if any(not c.shown for c in cells) else frozenset()
            added, result = self.publisher.release(cells, {}, keep_hidden=hidden)
            if not added and not result.revealed:
                break
            cells = [replace(c, shown=False) for c in cells]  # the figure goes as a whole
        if any(not c.shown for c in cells):
            figure.update(value=None, n=None, ci_low=None, ci_high=None, suppressed=True)
            self._flush()

    def recorded(self) -> pd.DataFrame:
        """The figures recorded so far in this run."""
        return pd.DataFrame(self.figures)

    def _flush(self) -> None:
        if self.run_dir is None:
            return
        data.atomic_write_text(
            self.run_dir / FIGURES_FILE, json.dumps(self.figures, ensure_ascii=False)
        )


#: id columns of unit frames and the prefix of their unit ids in the release
_ID_PREFIX = (
    ("registration", ""),
    ("case_id", "case:"),
    ("enrolment_id", "enrolment:"),
    ("volunteer_id", "volunteer:"),
    ("person_id", "person:"),
)


def figure_unit_ids(units: pd.DataFrame, *, distinct: bool = False) -> Any:
    """Release unit ids of the rows of a catalogue unit frame (``None`` when unknown).

    The id is the first id column that identifies the rows (a row per registration, case,
    enrolment, volunteer or person), with the prefix the field tables use. With
    ``distinct`` (counts of distinct units), an id column equal to the frame's ``unit``
    column is used even when units repeat, once per distinct id.
    """
    import numpy as np

    for column, prefix in _ID_PREFIX:
        if column in units.columns:
            values = units[column].astype(str)
            if "unit" in units.columns and not units["unit"].astype(str).equals(values):
                continue
            if values.is_unique:
                return np.asarray(prefix + values)
            if distinct and "unit" in units.columns:  # a count of distinct units
                return np.asarray(prefix + pd.Series(values.unique()))
    return None


def _grid_cells(grid: pd.DataFrame, total: str, keys: set[tuple[str, ...]]) -> pd.DataFrame:
    """A boolean frame shaped like a two-way table: true at the given (row, column, "n") keys."""
    where = force_frame(long_grid(grid, total), ["row", "column"], keys)["n"]
    return pd.DataFrame(
        where.to_numpy().reshape(grid.shape), index=grid.index, columns=grid.columns
    )


def _show_cells(table: DisclosedTable, true: pd.DataFrame, where: pd.DataFrame) -> DisclosedTable:
    """The table with the count cells at ``where`` shown (recomputable from the release)."""
    count = {
        c for c, f in zip(table.values.columns, table.formats, strict=True) if f.kind == "count"
    }
    where = where.reindex(index=table.values.index, columns=table.values.columns).fillna(False)
    where = (
        where.astype(bool)
        & table.mask
        & pd.DataFrame(
            {c: [c in count] * len(table.values) for c in table.values.columns},
            index=table.values.index,
        )
    )
    if not where.to_numpy().any():
        return table
    values = table.values.copy()
    for column in table.values.columns:
        rows = where[column].to_numpy()
        if rows.any():
            values.loc[rows, column] = true.loc[rows, column].round().astype("Int64").to_numpy()
    return replace(
        table, values=values, mask=table.mask & ~where, primary_mask=table.primary_mask & ~where
    )


def _release_mask(
    table: DisclosedTable, build: Any, extra: set[tuple[str, ...]]
) -> pd.DataFrame | None:
    """Cells hidden only because of the release (not by the table's own protection)."""
    if not extra:
        return None
    alone = build(set())
    return table.mask & ~alone.mask.reindex_like(table.mask).fillna(False).astype(bool)


def _key_columns(table: DisclosedTable) -> list[str]:
    """The label (key) columns of a protected long table."""
    return [
        c for c, f in zip(table.values.columns, table.formats, strict=True) if f.kind == "label"
    ]


def start(
    *,
    period_start: str,
    period_end: str,
    agency: str,
    snapshot: str = data.LATEST,
    language: Language = "de",
    suppression_threshold: int = 5,
) -> Context:
    """Set up a notebook run from its parameters and return its context."""
    if language not in ("de", "en"):
        raise ValueError(f"language must be 'de' or 'en', not {language!r}")
    start_day, end_day = date.fromisoformat(period_start), date.fromisoformat(period_end)
    if end_day < start_day:
        raise ValueError(f"period_end {period_end} is before period_start {period_start}")
    report_mode = os.environ.get(ENV_REPORT_MODE) == "1"
    run_dir = os.environ.get(ENV_RUN_DIR)
    plots.setup(language)
    if report_mode:
        guard_dataframes(True, language=language, strict=True)
    run_id = os.environ.get(ENV_RUN_ID)
    publisher = Publisher(
        run_id=run_id if report_mode else None,
        run_key=os.environ.get(ENV_RUN_KEY) or run_id,
        threshold=suppression_threshold,
    )
    return Context(
        publisher=publisher,
        period=period_of(start_day, end_day),
        agency=agency,
        snapshot=data.resolve(snapshot),
        language=language,
        rule=SuppressionRule(threshold=suppression_threshold),
        report_mode=report_mode,
        run_id=os.environ.get(ENV_RUN_ID),
        run_dir=Path(run_dir) if run_dir else None,
    )
