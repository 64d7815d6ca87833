"""Demo data and versioned snapshots."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from evaluation import data, demo
from evaluation.paths import paths

IDENTIFYING = {
    "name",
    "vorname",
    "nachname",
    "first_name",
    "last_name",
    "address",
    "street",
    "strasse",
    "phone",
    "telefon",
    "email",
    "e_mail",
    "birth_date",
    "geburtsdatum",
}


def _digest(folder):
    return {
        f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.glob("*.parquet"))
    }


def test_same_seed_gives_identical_files(tmp_path, demo_tables):
    a = data.write_snapshot(demo.generate(), source={"kind": "demo"}, root=paths(tmp_path / "a"))
    b = data.write_snapshot(demo.generate(), source={"kind": "demo"}, root=paths(tmp_path / "b"))
    assert a.id == b.id
    assert _digest(a.path) == _digest(b.path)
    other = demo.generate(seed=demo.SEED + 1)
    assert data.content_id(other) != a.id


def test_demo_is_a_realistic_agency(demo_tables):
    people = demo_tables["participants"]
    assert 1_900 <= len(people) <= 2_100
    years = people["first_contact"].dt.year
    assert years.min() == 2019 and years.max() == 2025
    assert set(people["target_group"]) == {
        "russischsprachig",
        "eu_suedost",
        "gefluechtete",
        "ukraine",
    }
    assert people.loc[people["target_group"] == "ukraine", "first_contact"].dt.year.min() >= 2022
    enrol = demo_tables["enrolments"]
    assert set(enrol["project"]) == {"anerkennung", "jobeinstieg", "elternarbeit", "orientierung"}
    assert enrol["exit_date"].isna().any(), "some participations are still running"
    assert (enrol["exit_reason"] == "abbruch").mean() > 0.05, "drop-outs exist"
    assert (
        enrol["exit_date"].dropna() >= enrol.loc[enrol["exit_date"].notna(), "entry_date"]
    ).all()
    assert people["birth_year"].isna().any(), "gaps as in real case files"
    decisions = set(demo_tables["recognition_cases"]["decision"])
    assert {"voll", "teilweise", "ausgleich", "keine", "zurueckgezogen", "offen"} <= decisions
    surveys = demo_tables["parent_surveys"]
    assert set(surveys["wave"]) == {"pre", "post"}
    assert (surveys["wave"] == "post").sum() < (surveys["wave"] == "pre").sum(), (
        "attrition between waves"
    )
    assert set(demo_tables["sozialraum"]["raum_id"]) == {
        "401",
        "402",
        "403",
        "404",
        "405",
        "406",
        "0",
    }


def test_no_identifying_columns_and_no_birth_dates(demo_tables):
    for name, table in demo_tables.items():
        lowered = {c.lower() for c in table.columns}
        assert not lowered & IDENTIFYING, name
    assert demo_tables["participants"]["birth_year"].dtype == "Int64"


def test_followups_agree_with_the_employment_panel(demo_tables):
    f = demo_tables["followups"]
    panel = demo_tables["employment_months"].set_index(["person_id", "month"])["status"]
    month = f["reference_date"].dt.to_period("M").dt.to_timestamp()
    known = panel.reindex(pd.MultiIndex.from_arrays([f["person_id"], month]))
    has = known.notna().to_numpy()
    assert has.mean() > 0.5
    assert (known.to_numpy()[has] == f["status"].to_numpy()[has]).all()


def test_planted_employment_effect_is_visible_in_raw_means(demo_tables):
    """Crude check of the planted effect: svB share 10+ months after entry vs before entry."""
    panel = demo_tables["employment_months"]
    enrol = demo_tables["enrolments"]
    entry = (
        enrol[enrol["project"].isin(["anerkennung", "jobeinstieg"])]
        .groupby("person_id")["entry_date"]
        .min()
    )
    p = panel.join(entry.dt.to_period("M").dt.to_timestamp().rename("entry"), on="person_id")
    event = (p["month"].dt.year - p["entry"].dt.year) * 12 + (
        p["month"].dt.month - p["entry"].dt.month
    )
    svb = p["status"].eq("svb")
    diff = svb[event >= 10].mean() - svb[event < 0].mean()
    assert diff == pytest.approx(demo.PLANTED.employment_plateau, abs=0.06)


def test_planted_effect_profile():
    effect = demo.PLANTED.employment_effect(np.array([-3, -1, 0, 4, 8, 20]))
    assert effect[0] == effect[1] == 0
    assert effect[2] == pytest.approx(
        demo.PLANTED.employment_plateau / demo.PLANTED.employment_ramp_months
    )
    assert effect[-1] == effect[-2] == demo.PLANTED.employment_plateau


def test_snapshot_is_immutable_and_content_addressed(tmp_path, demo_tables):
    root = paths(tmp_path)
    first = data.write_snapshot(demo_tables, source={"kind": "demo"}, root=root)
    before = {f: f.stat().st_mtime_ns for f in first.path.iterdir()}
    again = data.write_snapshot(demo_tables, source={"kind": "demo", "note": "again"}, root=root)
    assert again.id == first.id
    assert {f: f.stat().st_mtime_ns for f in first.path.iterdir()} == before
    assert again.manifest["source"] == {"kind": "demo"}, "an existing snapshot is never rewritten"
    assert not [p for p in root.snapshots.iterdir() if p.name.startswith(".")], (
        "no staging left behind"
    )
    assert data.resolve("latest", root=root) == first.id
    assert data.resolve(first.id[:6], root=root) == first.id
    assert data.load("participants", snapshot="latest", root=root).equals(
        demo_tables["participants"]
    )


def test_missing_data_and_tables_say_what_to_do(tmp_path):
    root = paths(tmp_path)
    with pytest.raises(data.SnapshotError, match="make demo-data"):
        data.resolve("latest", root=root)
    data.write_snapshot({"t": pd.DataFrame({"a": [1]})}, source={"kind": "test"}, root=root)
    with pytest.raises(
        data.SnapshotError, match=r"table 'nope' is not in snapshot \w+ \(it has: t\)"
    ):
        data.load("nope", root=root)
    with pytest.raises(data.SnapshotError, match="snapshot 'zzz' not found"):
        data.load("t", snapshot="zzz", root=root)


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "x" / "f.txt"
    data.atomic_write_text(target, "eins")
    data.atomic_write_text(target, "zwei")
    assert target.read_text() == "zwei"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]


def test_snapshot_files_are_verified_against_their_manifest(tmp_path, demo_tables):
    ws = paths(tmp_path)
    info = data.write_snapshot(dict(demo_tables), source={"kind": "test"}, root=ws)
    assert all(len(t["sha256"]) == 64 for t in info.manifest["tables"].values())
    assert data.verify_snapshot(info) == []
    file = info.path / "participants.parquet"
    raw = bytearray(file.read_bytes())
    raw[-20] ^= 0x01
    file.write_bytes(bytes(raw))
    with pytest.raises(data.SnapshotError, match=r"participants\.parquet: damaged"):
        data.verify_snapshot(info)
    file.unlink()
    with pytest.raises(data.SnapshotError, match=r"participants\.parquet: missing from snapshot"):
        data.verify_snapshot(info)


def test_snapshots_without_hashes_are_named_as_unverifiable(tmp_path, demo_tables):
    import json

    ws = paths(tmp_path)
    info = data.write_snapshot({"events": demo_tables["events"]}, source={"kind": "t"}, root=ws)
    manifest = json.loads((info.path / data.MANIFEST).read_text())
    del manifest["tables"]["events"]["sha256"]
    (info.path / data.MANIFEST).write_text(json.dumps(manifest))
    assert data.verify_snapshot(data.snapshot_info(root=ws)) == ["events"]


def test_latest_naming_a_missing_snapshot_is_one_clear_error(tmp_path, demo_tables):
    ws = paths(tmp_path)
    info = data.write_snapshot({"events": demo_tables["events"]}, source={"kind": "t"}, root=ws)
    (ws.snapshots / "LATEST").write_text("deadbeefdeadbeef\n")
    with pytest.raises(data.SnapshotError) as err:
        data.resolve(root=ws)
    message = str(err.value)
    assert "LATEST names snapshot 'deadbeefdeadbeef', which does not exist" in message
    assert info.id in message and "\n" not in message
    (ws.snapshots / "LATEST").write_text("")
    with pytest.raises(data.SnapshotError, match="names snapshot ''"):
        data.resolve(root=ws)
    with pytest.raises(data.SnapshotError, match=f"there are: {info.id}"):
        data.resolve("ffff", root=ws)
