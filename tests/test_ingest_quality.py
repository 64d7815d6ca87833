"""Data-quality figures for the data-quality notebook."""

from __future__ import annotations

import pandas as pd
import pytest

from evaluation.data import load_all, write_snapshot
from evaluation.ingest import ingest, quality
from tests.test_ingest_helpers import (
    PARTICIPANT_HEADER,
    fresh_workspace,
    participant_row,
    write_csv,
)

ENROLMENT_HEADER = [
    "Teilnahme-Nr",
    "Klient-Nr",
    "Projekt",
    "Eintritt",
    "Austritt",
    "Austrittsgrund",
]


@pytest.fixture
def two_ingests(tmp_path):
    """Two ingests: the second drops person 1, adds person 5 and has a quarantined row."""
    p, key = fresh_workspace(tmp_path)
    first = [
        write_csv(tmp_path / "p1.csv", PARTICIPANT_HEADER, [participant_row(i) for i in range(1, 5)]),
        write_csv(tmp_path / "e1.csv", ENROLMENT_HEADER, [
            ["T1", "K0001", "jobeinstieg", "01.04.2023", "01.10.2023", "regulaer"],
            ["T2", "K0002", "jobeinstieg", "15.04.2023", "", ""],
        ]),
    ]  # fmt: skip
    a = ingest(first, root=p, key_file=key)
    second = [
        write_csv(tmp_path / "p2.csv", PARTICIPANT_HEADER,
                  [participant_row(i) for i in range(2, 6)] + [participant_row(6, Zielgruppe="unbekannt")] + [participant_row(2)]),
        write_csv(tmp_path / "e2.csv", ENROLMENT_HEADER, [
            ["T2", "K0002", "jobeinstieg", "15.04.2023", "", ""],
            ["T3", "K0005", "anerkennung", "01.05.2023", "", ""],
            ["T3", "K0004", "anerkennung", "01.06.2023", "", ""],
        ]),
    ]  # fmt: skip
    b = ingest(second, root=p, key_file=key)
    return p, a, b


def test_completeness_per_field(demo_tables):
    out = quality.completeness(demo_tables).set_index(["table", "column"])
    assert out.loc[("participants", "person_id"), "share_filled"] == 1.0
    birth = out.loc[("participants", "birth_year")]
    assert (
        birth["filled"] == demo_tables["participants"]["birth_year"].notna().sum()
        and 0.9 < birth["share_filled"] < 1
    )
    assert not birth["required"]
    assert len(out) == sum(df.shape[1] for df in demo_tables.values())


def test_rows_per_month_follow_the_date_column(demo_tables):
    out = quality.rows_per_month(demo_tables)
    assert "sozialraum" not in set(out["table"])  # yearly data, no date column
    enrol = out[out["table"] == "enrolments"]
    assert enrol["rows"].sum() == len(demo_tables["enrolments"])
    jan = demo_tables["enrolments"]["entry_date"].between("2023-01-01", "2023-01-31").sum()
    assert enrol.loc[enrol["month"] == pd.Timestamp("2023-01-01"), "rows"].item() == jan


def test_quarantine_summary_and_duplicates(two_ingests):
    p, _, b = two_ingests
    q = quality.load_quarantine(root=p)
    pd.testing.assert_frame_equal(
        q, b.quarantine.astype({"source_row": "int64"}), check_dtype=False
    )
    summary = quality.quarantine_summary(q, "de").set_index(["table", "check"])
    assert summary.loc[("participants", "unknown_code"), "rows"] == 1
    assert summary.loc[("participants", "unknown_code"), "reason"] == "unbekannter Code"
    assert summary.loc[("enrolments", "duplicate_key"), "rows"] == 2
    dup = quality.duplicates_found(q, load_all(root=p)).set_index("table")
    assert dup.loc["participants", "exact_duplicates_quarantined"] == 1
    assert dup.loc["enrolments", "duplicate_ids_quarantined"] == 2


def test_identical_rows_kept_in_tables_without_key(demo_tables):
    q = pd.DataFrame(columns=["table", "check"])
    dup = quality.duplicates_found(q, demo_tables).set_index("table")
    assert (
        dup.loc["volunteer_assignments", "identical_rows_kept"]
        == demo_tables["volunteer_assignments"].duplicated().sum()
        > 0
    )
    assert dup.loc["participants", "identical_rows_kept"] == 0


def test_reconciliation_from_the_manifest(two_ingests):
    p, _, b = two_ingests
    rec = quality.reconciliation(root=p)
    pd.testing.assert_frame_equal(
        rec.set_index("table"), b.reconciliation.set_index("table"), check_like=True
    )


def test_changes_since_previous_snapshot(two_ingests):
    p, a, b = two_ingests
    assert list(quality.list_snapshots(root=p)["id"]) == [a.snapshot.id, b.snapshot.id]
    assert quality.previous_snapshot(root=p) == a.snapshot.id
    out = quality.changes_since_previous(root=p).set_index("table")
    assert out.loc[
        "participants", ["rows_before", "rows_after", "row_change", "new_keys", "removed_keys"]
    ].tolist() == [4, 4, 0, 1, 1]
    assert out.loc[
        "enrolments", ["rows_before", "rows_after", "new_keys", "removed_keys"]
    ].tolist() == [2, 1, 0, 1]
    first = quality.changes_since_previous(a.snapshot.id, root=p)
    assert set(first["note"]) == {"first snapshot"}


def test_changes_against_a_snapshot_with_another_key_are_not_compared_by_key(
    two_ingests, demo_tables
):
    p, _, b = two_ingests
    demo = write_snapshot(
        {"participants": demo_tables["participants"]}, source={"kind": "demo"}, root=p
    )
    out = quality.changes_since_previous(demo.id, previous=b.snapshot.id, root=p).set_index("table")
    assert out.loc["participants", "new_keys"] is None or pd.isna(
        out.loc["participants", "new_keys"]
    )
    assert "not comparable" in out.loc["participants", "note"]
    assert out.loc["enrolments", "note"] == "table removed"


def test_demo_snapshot_has_no_quarantine(tmp_path, demo_tables):
    p, _ = fresh_workspace(tmp_path)
    write_snapshot({"events": demo_tables["events"]}, source={"kind": "demo"}, root=p)
    assert quality.load_quarantine(root=p).empty
    assert quality.reconciliation(root=p).empty
    assert quality.quarantine_summary(quality.load_quarantine(root=p)).empty
