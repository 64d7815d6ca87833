"""The snapshot id hashes the Arrow form of the tables (issue 13), and the Parquet files are
written from that same Arrow form.

The id must stay the same for the same data (however its Arrow buffers happen to be cut:
chunks, slices, whatever a missing slot holds) and change whenever a name, a column, a
dtype or any single value changes.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation import data
from evaluation.paths import paths

SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

TEXTS = st.one_of(
    st.none(), st.sampled_from(["", "a", "b", "ab", "ä", "a b", "0"]), st.text(max_size=4)
)
INTS = st.one_of(st.none(), st.integers(-3, 3), st.integers(-(2**62), 2**62))
FLOATS = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32))
DATES = st.one_of(st.none(), st.dates(min_value=pd.Timestamp("1990-01-01").date(),
                                      max_value=pd.Timestamp("2030-12-31").date()))  # fmt: skip
FLAGS = st.one_of(st.none(), st.booleans())


@st.composite
def frames(draw, min_rows: int = 0) -> pd.DataFrame:
    """A frame with the column types of snapshot tables, missing values anywhere."""
    n = draw(st.integers(min_rows, 12))
    return pd.DataFrame(
        {
            "text": pd.Series(draw(st.lists(TEXTS, min_size=n, max_size=n)), dtype=object),
            "whole": pd.array(draw(st.lists(INTS, min_size=n, max_size=n)), dtype="Int64"),
            "required": np.array(
                draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n)), dtype="int64"
            ),
            "share": pd.array(
                [np.nan if v is None else v for v in draw(st.lists(FLOATS, min_size=n, max_size=n))],
                dtype="float64",
            ),
            "day": pd.array(
                [pd.NaT if v is None else pd.Timestamp(v) for v in draw(st.lists(DATES, min_size=n, max_size=n))],
                dtype="datetime64[ns]",
            ),
            "flag": pd.array(draw(st.lists(FLAGS, min_size=n, max_size=n)), dtype="boolean"),
            "code": pd.Categorical(
                draw(st.lists(st.sampled_from(["x", "y", None]), min_size=n, max_size=n)),
                categories=["x", "y", "z"],
            ),
        }
    )  # fmt: skip


def _other(column: str, value: object, draw) -> object:
    """A value of the column's type that differs from ``value`` (missing counts as one)."""
    strategy = {
        "text": TEXTS,
        "whole": INTS,
        "required": st.integers(-5, 5),
        "share": FLOATS,
        "day": DATES,
        "flag": FLAGS,
        "code": st.sampled_from(["x", "y", "z", None]),
    }[column]

    def same(v):
        if pd.isna(value) or v is None:
            return pd.isna(value) and v is None
        if column == "day":
            return pd.Timestamp(v) == value
        return v == value

    return draw(strategy.filter(lambda v: not same(v)))


@SETTINGS
@given(frame=frames(), cut=st.integers(0, 12))
def test_the_same_data_gives_the_same_id_however_its_buffers_are_cut(frame, cut):
    expected = data.content_id({"t": frame})
    assert data.content_id({"t": frame.copy()}) == expected
    # the same rows as two Arrow chunks, and as a slice of a longer table
    cut = min(cut, len(frame))
    whole = pa.Table.from_pandas(frame, preserve_index=False)
    chunked = pa.concat_tables([whole.slice(0, cut), whole.slice(cut)])
    assert data.content_id({"t": frame}, arrow={"t": chunked}) == expected
    longer = pd.concat([frame.iloc[:cut], frame, frame.iloc[cut:]], ignore_index=True)
    sliced = pa.Table.from_pandas(longer, preserve_index=False).slice(cut, len(frame))
    assert data.content_id({"t": frame}, arrow={"t": sliced}) == expected
    # rows taken out of a bigger frame (its own index and buffers)
    bigger = pd.concat([frame, frame], ignore_index=True)
    assert data.content_id({"t": bigger.iloc[len(frame) :].reset_index(drop=True)}) == expected


@SETTINGS
@given(frame=frames(min_rows=1), data_=st.data())
def test_any_changed_value_changes_the_id(frame, data_):
    row = data_.draw(st.integers(0, len(frame) - 1))
    column = data_.draw(st.sampled_from(list(frame.columns)))
    changed = frame.copy()
    value = _other(column, frame[column].iloc[row], data_.draw)
    if column == "day" and value is not None:
        value = pd.Timestamp(value)
    if column == "share" and value is None:
        value = np.nan
    changed.loc[row, column] = value
    assert changed.dtypes.equals(frame.dtypes)
    assert data.content_id({"t": changed}) != data.content_id({"t": frame})


def test_names_columns_dtypes_and_row_order_change_the_id():
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    first = data.content_id({"t": frame})
    assert data.content_id({"u": frame}) != first
    assert data.content_id({"t": frame.rename(columns={"a": "c"})}) != first
    assert data.content_id({"t": frame.astype({"a": "Int64"})}) != first
    assert data.content_id({"t": frame.iloc[::-1].reset_index(drop=True)}) != first
    assert data.content_id({"t": frame, "u": frame}) != first
    # where the text of one row ends and the next begins
    split = data.content_id({"t": pd.DataFrame({"s": ["ab", "c"]})})
    assert split != data.content_id({"t": pd.DataFrame({"s": ["a", "bc"]})})
    empty = data.content_id({"t": pd.DataFrame({"s": ["", None]})})
    assert empty != data.content_id({"t": pd.DataFrame({"s": [None, ""]})})


def test_what_a_missing_slot_holds_does_not_change_the_id():
    mask = np.array([False, True, False])
    one = pd.DataFrame({"n": pd.arrays.IntegerArray(np.array([1, 7, 3]), mask)})
    other = pd.DataFrame({"n": pd.arrays.IntegerArray(np.array([1, -99, 3]), mask.copy())})
    assert data.content_id({"t": one}) == data.content_id({"t": other})
    assert data.content_id({"t": one}) != data.content_id(
        {"t": pd.DataFrame({"n": pd.array([1, 7, 3], dtype="Int64")})}
    )


def test_an_arrow_table_of_other_rows_is_refused():
    frame = pd.DataFrame({"a": [1, 2, 3]})
    with pytest.raises(ValueError, match="t: the Arrow table is not the one of the frame"):
        data.content_id({"t": frame}, arrow={"t": pa.table({"a": [1, 2]})})


@SETTINGS
@given(frame=frames())
def test_the_parquet_files_hold_the_frames_and_are_those_pandas_writes(tmp_path_factory, frame):
    root = paths(tmp_path_factory.mktemp("ws"))
    info = data.write_snapshot({"t": frame}, source={"kind": "test"}, root=root)
    assert info.id == data.content_id({"t": frame})
    assert info.manifest["content_id_version"] == data.CONTENT_ID_VERSION
    back = pd.read_parquet(info.path / "t.parquet")
    # (Parquet keeps only the categories in use, with pandas' writer too)
    pd.testing.assert_frame_equal(back.astype({"code": object}), frame.astype({"code": object}))
    # the same file as pandas' own writer with the same options (and its pandas metadata)
    mine = pq.read_metadata(info.path / "t.parquet")
    reference = tmp_path_factory.mktemp("ref") / "t.parquet"
    frame.to_parquet(reference, index=False, **data.PARQUET_OPTIONS)
    assert (info.path / "t.parquet").read_bytes() == reference.read_bytes()
    assert json.loads(mine.metadata[b"pandas"])["columns"][0]["name"] == "text"


def test_an_arrow_form_given_by_the_caller_is_written(tmp_path):
    frame = pd.DataFrame({"a": pd.array([1, None], dtype="Int64"), "b": ["x", None]})
    arrow = data.arrow_tables({"t": frame})
    given_id = data.content_id({"t": frame}, arrow=arrow)
    info = data.write_snapshot(
        {"t": frame},
        source={"kind": "test"},
        root=paths(tmp_path),
        snapshot_id=given_id,
        arrow=arrow,
    )
    plain = data.write_snapshot({"t": frame}, source={"kind": "test"}, root=paths(tmp_path / "b"))
    assert info.id == plain.id == given_id
    assert info.manifest["tables"]["t"]["sha256"] == plain.manifest["tables"]["t"]["sha256"]
