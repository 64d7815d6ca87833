"""Keyed pseudonyms and masking: how no one stays identifiable after ingest.

Person ids (client numbers of the case-management software) and record ids become
``HMAC-SHA256(key, namespace + id)``, truncated to :data:`PSEUDONYM_LENGTH` hex characters.
The key is 32 random bytes created on first use in a file outside the workspace
(``EVALUATION_KEY_FILE``, default ``~/.config/evaluation/pseudonym.key``), readable by its
owner only. The same id keeps its pseudonym as long as the key is kept; without the key a
pseudonym cannot be linked back (guessing client numbers does not help: every guess needs
the key). Losing the key means the next ingest gives everyone new pseudonyms; the manifest
records the key's fingerprint so that this is noticed.

Values shown in the quarantine file go through :func:`mask`: anything that may identify a
person is replaced by its shape (``99.99.9999``), never shown in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evaluation import schemas
from evaluation.ingest.language import say

KEY_ENV = "EVALUATION_KEY_FILE"
DEFAULT_KEY_FILE = Path("~/.config/evaluation/pseudonym.key")
KEY_BYTES = 32
PSEUDONYM_LENGTH = 16
#: Longest value shown in clear in the quarantine file.
MAX_CLEAR_LENGTH = 40

_ID_PATTERN = re.compile(schemas.ID_PATTERN)
_WHITESPACE = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace())  # as str.strip()
_EMAIL = re.compile(schemas.EMAIL_PATTERN)
_PHONE = re.compile(schemas.PHONE_PATTERN)
_TOKEN = re.compile(r"\w{3,}")


class KeyFileError(RuntimeError):
    """The pseudonymisation key cannot be created or used safely."""


def key_file_path(key_file: Path | str | None = None) -> Path:
    """Return the key file: ``key_file``, else ``$EVALUATION_KEY_FILE``, else the default."""
    chosen = key_file or os.environ.get(KEY_ENV) or DEFAULT_KEY_FILE
    return Path(chosen).expanduser()


def load_or_create_key(
    key_file: Path | str | None = None, *, workspace: Path | None = None
) -> bytes:
    """Return the pseudonymisation key, creating it on first use.

    Parameters
    ----------
    key_file
        Where the key is kept; see :func:`key_file_path`.
    workspace
        The project folder; a key inside it is refused (it could end up in git).

    Raises
    ------
    KeyFileError
        The key file is inside the workspace, readable by others, not owned by the user
        or not a key.
    """
    path = key_file_path(key_file)
    if workspace is not None and path.resolve().is_relative_to(Path(workspace).resolve()):
        raise KeyFileError(
            f"key file {path} is inside the workspace {workspace}; keep it outside (set {KEY_ENV})"
        )
    if not path.exists():
        _create_key(path)
    return _read_key(path)


def resolve_key(
    key_file: Path | str | None,
    *,
    workspace: Path,
    previous: str | None,
    new_key: bool = False,
) -> tuple[bytes, Path | None]:
    """Return the key for an ingest and the key file if it was created just now.

    Parameters
    ----------
    previous
        Fingerprint of the key of the workspace's earlier ingests (``None``: this is the
        very first ingest of the workspace).
    new_key
        Accept a key other than ``previous`` (or create a missing one) on purpose.

    Raises
    ------
    KeyFileError
        The key file is unsafe; or it is missing although earlier ingests exist (a typo
        in the path must not create a new key); or it is not the key of earlier ingests.
    """
    path = key_file_path(key_file)
    if path.resolve().is_relative_to(Path(workspace).resolve()):
        raise KeyFileError(say(
            f"Schlüsseldatei {path} liegt im Arbeitsbereich {workspace}; sie gehört außerhalb (${KEY_ENV} setzen)",
            f"key file {path} is inside the workspace {workspace}; keep it outside (set {KEY_ENV})"))  # fmt: skip
    created = None
    if not path.exists():
        if previous is not None and not new_key:
            raise KeyFileError(say(
                f"Schlüsseldatei {path} fehlt, aber frühere Importe dieses Arbeitsbereichs nutzten einen Schlüssel (Fingerabdruck {previous}). Tippfehler im Pfad? Gesicherten Schlüssel zurückspielen oder mit --key-file angeben. Nur mit --new-key wird ein neuer Schlüssel angelegt; dann erhalten alle Personen neue Pseudonyme und sind nicht mehr mit früheren Daten verknüpfbar.",
                f"key file {path} is missing, but earlier ingests of this workspace used a key (fingerprint {previous}). A typo in the path? Restore the backed-up key or give it with --key-file. Only --new-key creates a new key; everyone then gets new pseudonyms that cannot be linked to earlier data."))  # fmt: skip
        _create_key(path)
        created = path
    key = _read_key(path)
    fingerprint = Pseudonymiser(key).fingerprint
    if previous is not None and fingerprint != previous and not new_key:
        raise KeyFileError(say(
            f"Schlüssel {path} (Fingerabdruck {fingerprint}) ist nicht der Schlüssel der früheren Importe (Fingerabdruck {previous}). Mit ihm erhielte jede Person ein neues Pseudonym: neue Daten ließen sich nicht mit früheren verknüpfen (Verläufe, Nachbefragungen, Vorjahresvergleich). Richtigen Schlüssel angeben (--key-file) oder bewusst mit --new-key neu beginnen.",
            f"key {path} (fingerprint {fingerprint}) is not the key of earlier ingests (fingerprint {previous}). With it everyone would get a new pseudonym: new data could not be linked to earlier data (histories, follow-ups, previous year). Give the right key (--key-file) or start afresh on purpose with --new-key."))  # fmt: skip
    return key, created


def _create_key(path: Path) -> None:
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
        os.chmod(path.parent, 0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # created meanwhile by another ingest: use theirs
        return
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(KEY_BYTES) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _read_key(path: Path) -> bytes:
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(
            say(
                f"Schlüsseldatei {path} ist keine gewöhnliche Datei",
                f"key file {path} is not a regular file",
            )
        )
    if info.st_mode & 0o077:
        raise KeyFileError(say(
            f"Schlüsseldatei {path} ist für andere lesbar (Modus {info.st_mode & 0o777:o}); chmod 600 {path} ausführen",
            f"key file {path} is accessible to others (mode {info.st_mode & 0o777:o}); run chmod 600 {path}"))  # fmt: skip
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise KeyFileError(
            say(
                f"Schlüsseldatei {path} gehört einem anderen Benutzer",
                f"key file {path} belongs to another user",
            )
        )
    text = path.read_text(encoding="ascii", errors="replace").strip()
    if not re.fullmatch(rf"[0-9a-f]{{{2 * KEY_BYTES}}}", text):
        raise KeyFileError(say(f"Schlüsseldatei {path} enthält keinen Schlüssel ({2 * KEY_BYTES} Hex-Zeichen)",
                               f"key file {path} does not hold a key ({2 * KEY_BYTES} hex characters)"))  # fmt: skip
    return bytes.fromhex(text)


def normalise_id(value: str) -> str | None:
    """Normalise a raw record id; ``None`` when it is not a valid id.

    Surrounding spaces go, letters become upper case, and leading zeros of purely numeric
    ids go (spreadsheets drop them, so ``"00123"`` and ``"123"`` are the same client).
    """
    text = value.strip()
    if not _ID_PATTERN.fullmatch(text):
        return None
    text = text.upper()
    return (text.lstrip("0") or "0") if text.isdigit() else text


def normalise_ids(values: Sequence[str]) -> list[str | None]:
    """:func:`normalise_id` for many values at once (vectorised with Arrow)."""
    import pyarrow as pa

    return normalise_id_array(pa.array(values, type=pa.string())).to_pylist()


def normalise_id_array(values):
    """:func:`normalise_id` over an Arrow string array; invalid ids become null.

    Parameters
    ----------
    values : pyarrow.Array
        Raw ids (``string`` or ``large_string``).

    Returns
    -------
    pyarrow.Array
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.utf8_trim(values, characters=_WHITESPACE)
    valid = pc.match_substring_regex(text, f"^(?:{schemas.ID_PATTERN})$")
    text = pc.ascii_upper(text)
    digits = pc.match_substring_regex(text, "^[0-9]+$")
    unpadded = pc.utf8_ltrim(text, characters="0")
    unpadded = pc.if_else(pc.equal(unpadded, ""), "0", unpadded)
    text = pc.if_else(digits, unpadded, text)
    return pc.if_else(valid, text, pa.scalar(None, text.type))


@dataclass(frozen=True)
class Pseudonymiser:
    """Turns ids into keyed pseudonyms; the key never shows in ``repr``."""

    key: bytes = field(repr=False)
    #: Pseudonyms computed so far, per namespace (:meth:`pseudonymise_distinct`).
    _known: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.key) < 16:
            raise KeyFileError("pseudonymisation key is too short")

    def pseudonym(self, value: str, namespace: str) -> str:
        """Return the pseudonym of one normalised id in ``namespace`` (e.g. ``"person"``)."""
        message = f"{namespace}\x1f{value}".encode()
        return hmac.digest(self.key, message, "sha256").hex()[:PSEUDONYM_LENGTH]

    def pseudonymise(self, values: Iterable[str], namespace: str) -> list[str]:
        """Return the pseudonyms of normalised ids, in order.

        Same values as :meth:`pseudonym`; HMAC (RFC 2104) is computed from the hash states
        of the padded key, prepared once, which is several times faster for many ids.
        """
        inner, outer = self._pads()
        inner.update(f"{namespace}\x1f".encode())
        size = PSEUDONYM_LENGTH // 2
        inner_copy, outer_copy = inner.copy, outer.copy  # bound once: a million calls each
        out = []
        append = out.append
        for value in values:
            i = inner_copy()
            i.update(value.encode())
            o = outer_copy()
            o.update(i.digest())
            append(o.digest()[:size].hex())
        return out

    def pseudonymise_distinct(self, ids, namespace: str):
        """Pseudonyms of distinct normalised ids, each HMAC computed once per ingest.

        Ids met before in the same namespace (another column or table of the same
        ingest, e.g. ``enrolment_id`` of enrolments and of follow-ups) are looked up; only
        new ones are computed with :meth:`pseudonymise`.

        Parameters
        ----------
        ids : pyarrow.Array
            Distinct normalised ids (no nulls).

        Returns
        -------
        numpy.ndarray
            The pseudonyms, in order (``object`` array of ``str``).
        """
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        ids = ids.cast(pa.large_string())
        known = self._known.get(namespace)
        if known is None:
            fresh, where = ids, None
        else:
            where = pc.index_in(ids, value_set=known[0])
            fresh = ids.filter(pc.is_null(where))
        computed = np.array(self.pseudonymise(fresh.to_pylist(), namespace), dtype=object)
        if known is None:
            self._known[namespace] = (fresh, computed)
            return computed
        out = np.empty(len(ids), dtype=object)
        seen = pc.is_valid(where).to_numpy(zero_copy_only=False)
        out[seen] = known[1][pc.drop_null(where).to_numpy(zero_copy_only=False)]
        out[~seen] = computed
        if len(fresh):
            self._known[namespace] = (
                pa.concat_arrays([known[0], fresh]),
                np.concatenate([known[1], computed]),
            )
        return out

    def _pads(self):
        """SHA-256 states of the key XOR ipad and XOR opad (RFC 2104)."""
        block = hashlib.sha256().block_size
        key = hashlib.sha256(self.key).digest() if len(self.key) > block else self.key
        key = key.ljust(block, b"\0")
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
        return inner, outer

    @property
    def fingerprint(self) -> str:
        """Short, non-reversible tag of the key: tells whether two snapshots share a key."""
        return hmac.digest(self.key, b"evaluation key fingerprint", "sha256").hex()[:12]


def shape(value: str) -> str:
    """Replace letters by ``a``/``A`` and digits by ``9``: ``"31.02.2021"`` -> ``"99.99.9999"``."""
    out = []
    for ch in value:
        if ch.isdigit():
            out.append("9")
        elif ch.isalpha():
            out.append("A" if ch.isupper() else "a")
        else:
            out.append(ch)
    return "".join(out)


def mask(value: str) -> str:
    """The masked form of a value in the quarantine file."""
    if len(value) > MAX_CLEAR_LENGTH:
        return f"[masked: {len(value)} characters]"
    return f"[masked: {shape(value)}]"


def looks_identifying(value: str) -> bool:
    """True for e-mail addresses, phone numbers and anything too long to check by eye.

    Birth dates are caught because they are among the identifiers of the ingest (see
    :func:`mask_values`).
    """
    return len(value) > MAX_CLEAR_LENGTH or bool(_EMAIL.search(value) or _PHONE.search(value))


def tokens(value: str) -> set[str]:
    """Words of three or more characters with a letter, lower case (compared with identifiers)."""
    return {t.lower() for t in _TOKEN.findall(value) if not t.isdigit()}


def mask_values(
    values: Sequence[str | None], privacy: Sequence[str], identifiers: set[str]
) -> list[str]:
    """Mask quarantine values that are or may contain identifying data.

    Parameters
    ----------
    values
        Values as read (``None`` for none).
    privacy
        Per value: ``"mask"`` (always masked: raw ids, birth dates), ``"clear"`` (never:
        pseudonyms) or ``"check"`` (masked if it looks identifying or holds an identifier).
    identifiers
        Lower-case words and values found in identifying columns of the ingest (names,
        streets, phone numbers, client numbers).
    """
    out = []
    for value, how in zip(values, privacy, strict=True):
        if value is None or value == "":
            out.append("")
        elif how == "clear":
            out.append(value)
        elif (
            how == "mask"
            or looks_identifying(value)
            or (tokens(value) & identifiers)
            or value.strip().lower() in identifiers
        ):
            out.append(mask(value))
        else:
            out.append(value)
    return out
