"""The language of everything the ingest says: German by default, English on request.

Messages are written where they arise as ``say("deutsch …", "english …")``; the language
of the running ingest (:func:`speaking`) picks one. Errors are therefore worded in the
language of the command that raised them, and nothing needs a message catalogue.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Literal

Language = Literal["de", "en"]
LANGUAGES: tuple[Language, ...] = ("de", "en")
_CURRENT: ContextVar[Language] = ContextVar("evaluation_ingest_language", default="de")


def current() -> Language:
    """The language of the running ingest (``"de"`` unless set by :func:`speaking`)."""
    return _CURRENT.get()


def say(de: str, en: str) -> str:
    """Return ``de`` or ``en``, whichever is the current language."""
    return en if _CURRENT.get() == "en" else de


@contextlib.contextmanager
def speaking(language: Language) -> Iterator[None]:
    """Within the block, :func:`say` answers in ``language``."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    token = _CURRENT.set(language)
    try:
        yield
    finally:
        _CURRENT.reset(token)
