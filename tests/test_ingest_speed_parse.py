"""Fast paths of parsing ids (issue 13's ingest speed) give what the row-by-row parse gives.

Ids that normalising leaves as they are (upper case, no leading zeros, no spaces) and that
differ from each other are pseudonymised without a second dictionary encoding; every other
case (spaces that make two cells one id, ``"007"`` and ``"7"``, lower case, invalid ids, a
value map) takes the general path. Both must equal the careful parse, row by row.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation import schemas
from evaluation.ingest import parse
from evaluation.ingest.parse import parse_column
from evaluation.ingest.pseudonymise import Pseudonymiser
from tests.test_ingest_fastpath import _assert_issues_equal, careful_parse_column

KEY = bytes(range(32))
PERSON = schemas.TABLES["participants"].column("person_id")
ENROLMENT = schemas.TABLES["followups"].column("enrolment_id")

IDS = st.sampled_from(
    ["P1", "P2", "T10", "AB-12/3", "Z9", "007", "7", "p1", " P1", "P1 ", "\u3000P2", "x y",
     "", "Ü", "0", "000", "A" * 41, "1" * 300]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(values=st.lists(IDS | st.none(), max_size=30), storage=st.sampled_from(["string[pyarrow]", "object"]),
       column=st.sampled_from([PERSON, ENROLMENT]))  # fmt: skip
def test_ids_parse_as_row_by_row(values, storage, column):
    series = pd.Series(values, dtype=storage)
    fast, fast_issues = parse_column(series, column, "followups", "de", Pseudonymiser(KEY))
    careful, careful_issues = careful_parse_column(
        series, column, "followups", "de", Pseudonymiser(KEY)
    )
    pd.testing.assert_series_equal(fast, careful)
    _assert_issues_equal(fast_issues, careful_issues)


@pytest.mark.parametrize(
    ("values", "shortcut"),
    [
        (["P1", "P2", "P1", "T10"], True),  # normal ids, repeated rows
        (["P1", " P1", "P2"], False),  # two cells, one id after stripping
        (["007", "7"], False),  # leading zeros
        (["p1", "P1"], False),  # lower case
        (["P1", "x y"], False),  # an invalid id
    ],
)
def test_the_shortcut_is_taken_only_where_the_texts_are_the_distinct_ids(
    monkeypatch, values, shortcut
):
    encodings = []
    original = parse.pc.dictionary_encode
    monkeypatch.setattr(
        parse.pc,
        "dictionary_encode",
        lambda a, *k, **kw: encodings.append(len(a)) or original(a, *k, **kw),
    )
    series = pd.Series(values, dtype="string[pyarrow]")
    fast, issues = parse_column(series, PERSON, "participants", "de", Pseudonymiser(KEY))
    careful, careful_issues = careful_parse_column(
        series, PERSON, "participants", "de", Pseudonymiser(KEY)
    )
    pd.testing.assert_series_equal(fast, careful)
    _assert_issues_equal(issues, careful_issues)
    assert len(encodings) == (1 if shortcut else 2)


def test_a_value_map_on_an_id_column_takes_the_general_path():
    series = pd.Series(["K1", "K2"], dtype="string[pyarrow]")
    value_map = {schemas.normalise("K2"): "K1"}  # two spellings, one id
    fast, _ = parse_column(
        series, PERSON, "participants", "de", Pseudonymiser(KEY), value_map=value_map
    )
    careful, _ = careful_parse_column(
        series, PERSON, "participants", "de", Pseudonymiser(KEY), value_map=value_map
    )
    pd.testing.assert_series_equal(fast, careful)
    assert fast.nunique() == 1
