"""Fast paths of reading (issue 13's ingest speed) give what the careful definitions give.

* the UTF-8 share of a file that is not UTF-8 (:func:`~evaluation.ingest.read._mostly_utf8`)
  is decided without decoding when every non-ASCII byte stands alone, as in cp1252 text;
* the scan for adjacent non-ASCII bytes works in steps; a pair across a step is found.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.ingest import read
from tests.test_ingest_fastpath import assert_reads_alike, csv_texts


def defined_mostly_utf8(data: bytes) -> bool:
    """The definition: decode with replacements and count."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    return non_ascii - bad > bad


#: ASCII, cp1252 umlauts, UTF-8 umlauts, a literal replacement character, bytes that are
#: neither, and cut UTF-8 sequences: the pieces of garbled exports.
PIECES = st.sampled_from(
    [b"a", b";", b"\r\n", b'"', b"\xe4", b"\xfc", b"\xdf", b"\x80", b"\xff", b"\xc3\xa4",
     b"\xc3\xbc", b"\xef\xbf\xbd", b"\xe2\x82\xac", b"\xe2\x82", b"\xf0\x9f\x98\x80", b"\xc3"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=40).map(b"".join) | st.binary(max_size=60),
       st.sampled_from([1, 2, 3, 7, 1 << 18]))  # fmt: skip
def test_utf8_share_without_decoding_equals_the_count(data, step):
    original = read._SCAN_BYTES
    read._SCAN_BYTES = step  # steps of 1 to 7 bytes: pairs across steps
    try:
        assert read._mostly_utf8(data) == defined_mostly_utf8(data)
        pairs = any(a >= 0x80 and b >= 0x80 for a, b in zip(data, data[1:], strict=False))
        assert read._adjacent_non_ascii(data) == pairs
    finally:
        read._SCAN_BYTES = original


def test_cp1252_text_is_not_mostly_utf8_and_utf8_with_a_bad_byte_is():
    text = "Müller;Straße;Jobeinstieg für Ältere\r\n" * 50
    assert not read._mostly_utf8(text.encode("cp1252"))
    assert not read._adjacent_non_ascii(text.encode("cp1252"))
    broken = text.encode("utf-8") + b"\xfc"
    assert read._mostly_utf8(broken) and defined_mostly_utf8(broken)


def defined_decode(data: bytes, name: str = "f.csv") -> tuple[str, str]:
    """:func:`read.decode` as it was before the fast path: the decision by counting."""
    import codecs

    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise read._bad_bytes(name, data, exc.start + 3, "UTF-8") from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise read._bad_bytes(name, data, exc.start, "UTF-16") from exc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if defined_mostly_utf8(data):
            raise read._bad_bytes(name, data, exc.start, "UTF-8") from exc
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise read._bad_bytes(name, data, exc.start, "UTF-8 / Windows-1252") from exc


def _outcome(decoder, data):
    try:
        return decoder(data, "f.csv")
    except read.IngestError as exc:
        return ("error", str(exc))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        PIECES | st.sampled_from([b"\x81", b"\x8d", b"\x9d", b"\xef\xbb\xbf"]), max_size=40
    ).map(b"".join),
    st.sampled_from([1, 2, 3, 5, 1 << 16]),
)
def test_decode_gives_the_text_encoding_or_message_it_gave(data, probe):
    # cp1252 text, UTF-8 text, UTF-8 cut inside a character, bytes undefined in cp1252;
    # probes of 1 to 5 bytes end inside characters and before or after the first bad byte
    original = read._UTF8_PROBE
    read._UTF8_PROBE = probe
    try:
        assert _outcome(read.decode, data) == _outcome(defined_decode, data)
    finally:
        read._UTF8_PROBE = original


@settings(max_examples=80, deadline=None)
@given(text=csv_texts(), block=st.sampled_from([16, 64, 1 << 22]), threads=st.booleans())
def test_the_block_read_in_one_thread_equals_the_threaded_and_the_exact_read(text, block, threads):
    import pytest

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(read, "ARROW_BLOCK_BYTES", block)
        mp.setattr(read, "READ_THREADS", threads)
        header = read._line_fields(read.first_line(text), ";")
        try:
            fast = read._records_arrow(text, ";", header)
        except read._FallBack:
            return
    assert_reads_alike(fast, read._records_python(text, ";", len(header)))


def test_a_field_longer_than_a_block_reads_alike_in_one_thread(monkeypatch):
    import pandas as pd

    monkeypatch.setattr(read, "ARROW_BLOCK_BYTES", 64)
    text = "h0;h1\r\n" + "a;" + "x" * 1000 + "\r\n" + '"q\r\nq";' + "ü" * 300 + "\r\n;\r\nb;c\r\n"
    fast = read._records_arrow(text, ";", ["h0", "h1"])
    careful = read._records_python(text, ";", 2)
    pd.testing.assert_frame_equal(fast[0].astype(object), careful[0].astype(object))
    assert fast[1].tolist() == careful[1].tolist()
