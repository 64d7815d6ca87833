"""Keyed pseudonyms, the key file, and masking of quarantine values."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation.ingest.pseudonymise import (
    KEY_ENV,
    KeyFileError,
    Pseudonymiser,
    key_file_path,
    load_or_create_key,
    looks_identifying,
    mask,
    mask_values,
    normalise_id,
    normalise_ids,
)


def test_key_is_created_once_with_owner_only_permissions(tmp_path):
    path = tmp_path / "config" / "evaluation" / "pseudonym.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_key(path) == key  # kept, not replaced
    assert load_or_create_key(tmp_path / "other.key") != key


def test_key_file_location(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert key_file_path() == (
        os.path.expanduser("~") / __import__("pathlib").Path(".config/evaluation/pseudonym.key")
    )
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "k"))
    assert key_file_path() == tmp_path / "k"
    assert key_file_path(tmp_path / "explicit") == tmp_path / "explicit"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_key_readable_by_others_is_refused(tmp_path, mode):
    path = tmp_path / "k.key"
    load_or_create_key(path)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_or_create_key(path)


def test_key_inside_the_workspace_is_refused(tmp_path):
    with pytest.raises(KeyFileError, match="outside"):
        load_or_create_key(tmp_path / "ws" / "data" / "k.key", workspace=tmp_path / "ws")
    assert not (tmp_path / "ws").exists()


def test_damaged_key_file_is_refused(tmp_path):
    path = tmp_path / "k.key"
    path.write_text("not a key")
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError, match="enthält keinen Schlüssel"):
        load_or_create_key(path)


def test_pseudonym_is_hmac_sha256_of_namespace_and_id():
    key = bytes(range(32))
    p = Pseudonymiser(key)
    expected = hmac.new(key, b"person\x1fP00001", hashlib.sha256).hexdigest()[:16]
    assert p.pseudonym("P00001", "person") == expected
    assert p.pseudonymise(["P00001", "P00002"], "person") == [
        expected,
        p.pseudonym("P00002", "person"),
    ]
    assert p.pseudonym("P00001", "volunteer") != expected  # namespaces keep id kinds apart
    assert key.hex() not in repr(p) and "key" not in repr(p)


def test_without_the_key_pseudonyms_cannot_be_recomputed():
    ids = [f"P{i:05d}" for i in range(1, 2001)]
    real = set(Pseudonymiser(bytes(32)).pseudonymise(ids, "person"))
    guessed = set(Pseudonymiser(bytes([1]) + bytes(31)).pseudonymise(ids, "person"))
    plain = {hashlib.sha256(i.encode()).hexdigest()[:16] for i in ids}
    assert not real & guessed and not real & plain


def test_fingerprint_tells_keys_apart_without_revealing_them():
    a, b = Pseudonymiser(bytes(32)), Pseudonymiser(bytes([1]) + bytes(31))
    assert a.fingerprint != b.fingerprint and len(a.fingerprint) == 12
    assert a.fingerprint not in bytes(32).hex()


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("P00001", "P00001"), (" p00001 ", "P00001"), ("00123", "123"), ("123", "123"), ("0", "0"), ("AB-12/3", "AB-12/3"),
     ("", None), ("K 12", None), ("Müller", None), ("x" * 41, None)],
)  # fmt: skip
def test_ids_are_normalised_before_pseudonymising(raw, normal):
    assert normalise_id(raw) == normal


def test_masking_keeps_the_shape_only():
    assert mask("31.02.2021") == "[masked: 99.99.9999]"
    assert mask("Müller") == "[masked: Aaaaaa]"
    assert mask("x" * 60) == "[masked: 60 characters]"


@pytest.mark.parametrize(
    ("value", "identifying"),
    [("olga@example.org", True), ("0221 4710 123", True), ("+49 151 1234567", True), ("0151/12345678", True),
     ("31.02.2021", False), ("2021-02-31", False), ("arbeitssuchend", False), ("1990-2000", False), ("x" * 41, True)],
)  # fmt: skip
def test_contact_data_looks_identifying(value, identifying):
    assert looks_identifying(value) is identifying


def test_mask_values_by_privacy_and_known_identifiers():
    values = [
        "P00017",
        "a1b2c3d4e5f60718",
        "Frau Iwanowa",
        "iwanowa",
        "Spätaussiedler",
        "31.02.2021",
        None,
    ]
    privacy = ["mask", "clear", "check", "check", "check", "check", "check"]
    out = mask_values(values, privacy, identifiers={"iwanowa"})
    assert out == [
        "[masked: A99999]",
        "a1b2c3d4e5f60718",
        "[masked: Aaaa Aaaaaaa]",
        "[masked: aaaaaaa]",
        "Spätaussiedler",
        "31.02.2021",
        "",
    ]


@given(
    st.lists(
        st.text(max_size=12)
        | st.from_regex(r"\s*[A-Za-z0-9][A-Za-z0-9_./-]{0,45}\s*", fullmatch=True),
        max_size=30,
    )
)
def test_vectorised_id_normalisation_agrees_with_the_single_one(values):
    assert normalise_ids(values) == [normalise_id(v) for v in values]


@pytest.mark.parametrize("size", [16, 32, 64, 100])
def test_fast_pseudonyms_equal_the_reference_hmac(size):
    p = Pseudonymiser(bytes(range(size)))
    ids = ["P00001", "123", "AB-12/3", "Ü"]
    assert p.pseudonymise(ids, "person") == [p.pseudonym(i, "person") for i in ids]


def test_the_hmac_is_computed_once_per_distinct_normalised_id():
    import pandas as pd

    from evaluation import schemas
    from evaluation.ingest.parse import parse_column

    class Counting(Pseudonymiser):
        def pseudonymise(self, values, namespace):
            values = list(values)
            calls.append(values)
            return super().pseudonymise(values, namespace)

    calls: list[list[str]] = []
    col = schemas.TABLES["participants"].column("person_id")
    values = pd.Series(
        ["007", "7", " 7 ", "x y", "K1", "k1", "007"] * 1000, dtype="string[pyarrow]"
    )
    typed, issues = parse_column(values, col, "participants", "de", Counting(b"k" * 32))
    assert calls == [["7", "K1"]]  # distinct normalised ids only, each once
    assert typed.iloc[0] == typed.iloc[1] == typed.iloc[2] and typed.iloc[4] == typed.iloc[5]
    assert set(issues["check"]) == {"invalid_id"} and len(issues) == 1000
    assert typed.iloc[0] == Pseudonymiser(b"k" * 32).pseudonym("7", "person")


@given(st.lists(st.lists(st.sampled_from(["1", "2", "K1", "K2", "AB-3", "Ü"]), unique=True, max_size=6),
                max_size=4),
       st.sampled_from(["person", "enrolment"]))  # fmt: skip
def test_pseudonyms_of_an_ingest_are_computed_once_per_id_and_namespace(batches, namespace):
    import pyarrow as pa

    class Counting(Pseudonymiser):
        def pseudonymise(self, values, namespace):
            values = list(values)
            computed.extend((namespace, v) for v in values)
            return super().pseudonymise(values, namespace)

    computed: list[tuple[str, str]] = []
    p = Counting(b"k" * 32)
    for batch in batches:
        got = p.pseudonymise_distinct(pa.array(batch, type=pa.string()), namespace)
        assert got.tolist() == [p.pseudonym(v, namespace) for v in batch]
    other = p.pseudonymise_distinct(pa.array(["1"], type=pa.string()), "other")
    assert other.tolist() == [p.pseudonym("1", "other")] != [p.pseudonym("1", namespace)]
    seen = {v for batch in batches for v in batch}
    assert sorted(computed) == sorted([(namespace, v) for v in seen] + [("other", "1")])
