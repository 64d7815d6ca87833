"""The data contract: schemas match the demo tables, catch what they should, and document it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pytest

from evaluation import labels, schemas

REPO = Path(__file__).resolve().parents[1]


def test_schemas_describe_exactly_the_demo_tables(demo_tables):
    assert set(schemas.TABLES) == set(demo_tables)
    for name, df in demo_tables.items():
        spec = schemas.TABLES[name]
        assert spec.names == list(df.columns), name
        assert [c.dtype for c in spec.columns] == [str(t) for t in df.dtypes], name
        schemas.validate(name, df)
    schemas.validate_tables(demo_tables)


def test_final_schema_rejects_wrong_dtype_order_and_duplicate_keys(demo_tables):
    df = demo_tables["participants"]
    with pytest.raises(pa.errors.SchemaErrors):
        schemas.validate("participants", df.astype({"arrival_year": "float64"}))
    with pytest.raises(pa.errors.SchemaErrors):
        schemas.validate("participants", df[list(reversed(df.columns))])
    with pytest.raises(pa.errors.SchemaErrors):
        schemas.validate("participants", pd.concat([df, df.head(1)], ignore_index=True))
    with pytest.raises(pa.errors.SchemaErrors):
        schemas.validate("participants", df.assign(extra=1))


@pytest.mark.parametrize(
    ("table", "change", "column", "check"),
    [
        ("followups", {"status": "arbeitssuchend"}, "status", "unknown_code"),
        ("followups", {"months_after_exit": 7}, "months_after_exit", "not_allowed"),
        ("parent_surveys", {"fsw_3": 7}, "fsw_3", "out_of_range"),
        ("contacts", {"contact_date": pd.Timestamp("2205-01-01")}, "contact_date", "out_of_range"),
        ("enrolments", {"exit_date": pd.Timestamp("2018-01-01")}, "exit_date", "exit_before_entry"),
        ("recognition_cases", {"decision": "offen"}, "decision_date", "decision_date_inconsistent"),
        ("participants", {"arrival_year": 1900}, "arrival_year", "arrival_before_birth"),
        (
            "participants",
            {"country_of_origin": "Tel. 0221 4710 123"},
            "country_of_origin",
            "looks_identifying",
        ),
        ("events", {"event_id": "V 1 !"}, "event_id", "bad_format"),
        ("contacts", {"person_id": None}, "person_id", "not_nullable"),
    ],
)
def test_contract_catches_each_kind_of_error(demo_tables, table, change, column, check):
    df = demo_tables[table].head(20).copy()
    for col, value in change.items():
        df.loc[3, col] = value
    if table == "participants" and "arrival_year" in change:
        df.loc[3, "birth_year"] = 1950
    with pytest.raises(pa.errors.SchemaErrors) as err:
        schemas.pandera_schema(table, "parsed").validate(
            df.astype({c.name: c.parsed_dtype for c in schemas.TABLES[table].columns}), lazy=True
        )
    cases = err.value.failure_cases
    assert 3 in set(cases.loc[cases["check"] == check, "index"])
    if check not in {"exit_before_entry", "decision_date_inconsistent", "arrival_before_birth"}:
        assert set(cases.loc[cases["check"] == check, "column"]) == {column}


def test_headers_are_unique_and_never_taken_for_identifying_columns():
    for name, spec in schemas.TABLES.items():
        seen: dict[str, str] = {}
        for col in spec.columns:
            assert col.de and col.en and col.about_de and col.about_en, (name, col.name)
            for header in col.headers():
                key = schemas.normalise(header)
                assert seen.setdefault(key, col.name) == col.name, (name, header)
                assert schemas.identifying_for_header(header) is None, (name, header)


@pytest.mark.parametrize(
    ("table", "header", "column"),
    [
        ("participants", "Klient-Nr.", "person_id"),
        ("participants", "KLIENT NR", "person_id"),
        ("participants", "Client number", "person_id"),
        ("participants", "person_id", "person_id"),
        ("contacts", "Dauer (Minuten)", "minutes"),
        ("followups", "SGB-II-Bezug", "sgb2_receipt"),
        ("volunteers", "Recruited on", "recruited_date"),
        ("sozialraum", "ZAHL", "zahl"),
        ("events", "Ort", None),  # "Ort" is an address part, not the event location
    ],
)
def test_german_and_english_headers_are_recognised(table, header, column):
    assert schemas.column_for_header(table, header) == column


def test_identifying_headers_are_recognised():
    for header, ident in [("Vorname", "first_name"), ("E-Mail", "email"), ("Straße", "street"), ("Strasse", "street"),
                          ("Geburtsdatum", "birth_date"), ("Date of birth", "birth_date"), ("Tel.", "phone")]:  # fmt: skip
        assert schemas.identifying_for_header(header) == ident


def test_codes_are_read_from_codes_and_labels_in_both_languages():
    for name, spec in schemas.TABLES.items():
        for col in spec.columns:
            if not col.codes:
                continue
            lookup = schemas.value_lookup(name, col.name)
            for code, (de, en) in col.codes.items():
                for spelling in (code, de, en, de.upper()):
                    assert lookup[schemas.normalise(spelling)] == code, (name, col.name, spelling)
    assert (
        schemas.value_lookup("participants", "stadtteil")[schemas.normalise("401 Ehrenfeld")]
        == "401"
    )


def test_code_lists_are_those_of_labels():
    assert schemas.TABLES["followups"].column("status").codes is labels.EMPLOYMENT_STATUS
    assert schemas.TABLES["participants"].column("target_group").codes is labels.TARGET_GROUPS


def test_free_text_must_be_marked_safe():
    with pytest.raises(ValueError, match="safe_text"):
        schemas.Column("note", "string", "Bemerkung", "Note", "Notiz", "Note")


def test_identifiers_of_the_case_file_are_pseudonymised():
    pseudonymised = {
        (t, c.name) for t, s in schemas.TABLES.items() for c in s.columns if c.pseudonym
    }
    for table in (
        "participants",
        "enrolments",
        "contacts",
        "employment_months",
        "followups",
        "recognition_cases",
        "parent_surveys",
    ):
        assert (table, "person_id") in pseudonymised
    assert {
        ("volunteers", "volunteer_id"),
        ("volunteer_assignments", "volunteer_id"),
        ("enrolments", "enrolment_id"),
    } <= pseudonymised
    namespaces = {
        c.name: c.pseudonym for s in schemas.TABLES.values() for c in s.columns if c.pseudonym
    }
    assert namespaces["person_id"] == "person"


def test_load_order_puts_parents_first():
    order = schemas.load_order()
    assert sorted(order) == sorted(schemas.TABLES)
    for name, spec in schemas.TABLES.items():
        for parent in spec.parents:
            assert order.index(parent) < order.index(name)


def test_table_names_from_file_and_sheet_names():
    assert schemas.table_for_name("Teilnehmende") == "participants"
    assert schemas.table_for_name("Anerkennungsfälle") == "recognition_cases"
    assert schemas.table_for_name("Verbleib_Nachbefragung") == "followups"
    assert schemas.table_for_name("Tabelle1") is None


def test_data_dictionary_covers_every_table_column_and_code():
    text = schemas.data_dictionary()
    for name, spec in schemas.TABLES.items():
        assert f"## `{name}`" in text
        for col in spec.columns:
            assert f"| `{col.name}` | {col.de} | {col.en} |" in text
            assert (
                col.about_de.replace("|", "\\|") in text
                and col.about_en.replace("|", "\\|") in text
            )
    for code, (de, en) in labels.EMPLOYMENT_STATUS.items():
        assert f"| `{code}` | {de} | {en} |" in text
    assert "Geburtsdatum" in text and "HMAC" in text


def test_data_dictionary_in_docs_is_up_to_date():
    file = REPO / "docs" / "data_dictionary.md"
    assert file.exists(), "run: python -m evaluation.schemas docs/data_dictionary.md"
    assert file.read_text(encoding="utf-8") == schemas.data_dictionary(), (
        "regenerate: python -m evaluation.schemas docs/data_dictionary.md"
    )
