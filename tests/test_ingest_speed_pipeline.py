"""The ingest's Arrow allocator (issue 13's ingest speed) changes time, never results.

The ingest allocates Arrow memory from the C library's allocator while it runs
(:func:`evaluation.ingest.pipeline.arrow_memory_pool`); the same files must give the same
tables, quarantine, snapshot id and Parquet files as with Arrow's default allocator, and
the default must be back afterwards, also when the ingest fails.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.ingest import IngestError, pipeline
from tests.test_ingest_fastpath import _ingest
from tests.test_ingest_properties import garbled_participants


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=garbled_participants(quotes=True), encoding=st.sampled_from(["cp1252", "utf-8-sig"]))  # fmt: skip
def test_the_allocator_changes_nothing_in_the_snapshot(tmp_path_factory, case, encoding):
    text, _ = case
    data = text.encode(encoding, errors="replace")
    system = _ingest(tmp_path_factory.mktemp("system"), data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "ARROW_POOL", None)  # Arrow's default allocator
        default = _ingest(tmp_path_factory.mktemp("default"), data)
    pd.testing.assert_frame_equal(system.reconciliation, default.reconciliation)
    pd.testing.assert_frame_equal(system.quarantine, default.quarantine)
    for table in system.tables:
        pd.testing.assert_frame_equal(system.tables[table], default.tables[table])
    assert system.snapshot.id == default.snapshot.id
    assert system.snapshot.manifest["tables"] == default.snapshot.manifest["tables"]  # file hashes


def test_the_default_allocator_is_back_after_an_ingest_and_after_a_failure(tmp_path):
    before = pa.default_memory_pool().backend_name
    seen = []
    with pipeline.arrow_memory_pool():
        seen.append(pa.default_memory_pool().backend_name)
    assert seen == ["system"] and pa.default_memory_pool().backend_name == before
    with pytest.raises(IngestError):
        _ingest(tmp_path / "empty", b"")
    assert pa.default_memory_pool().backend_name == before


def test_an_allocator_this_build_lacks_leaves_the_default(monkeypatch):
    monkeypatch.setattr(pipeline, "ARROW_POOL", "no_such")
    before = pa.default_memory_pool().backend_name
    with pipeline.arrow_memory_pool():
        assert pa.default_memory_pool().backend_name == before
