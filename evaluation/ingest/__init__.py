"""Real agency data in: validated, pseudonymised, versioned snapshots.

``ingest(paths)`` reads CSV (as German Excel writes it) and XLSX exports and the City of
Cologne's open-data CSV, checks them against the data contract (:mod:`evaluation.schemas`),
replaces person and record ids by keyed pseudonyms, drops identifying and unrecognised
columns, sends rows that break the contract to a quarantine file with their reasons and
writes the rest as an immutable snapshot (:func:`evaluation.data.write_snapshot`).

The agency's own headers and codes are read through a mapping file
(:mod:`evaluation.ingest.mapping`, drafted by :mod:`evaluation.ingest.suggest`); templates
for keeping the data in Excel come from :mod:`evaluation.ingest.templates`.

Command line: ``python -m evaluation ingest PATH...`` and ``python -m evaluation templates DIR``
(see :mod:`evaluation.ingest.cli`).
"""

from evaluation.ingest.mapping import Mapping, MappingError, load_mapping
from evaluation.ingest.pipeline import IngestResult, ingest
from evaluation.ingest.pseudonymise import (
    KeyFileError,
    Pseudonymiser,
    key_file_path,
    load_or_create_key,
)
from evaluation.ingest.read import IngestError

__all__ = [
    "IngestError",
    "IngestResult",
    "KeyFileError",
    "Mapping",
    "MappingError",
    "Pseudonymiser",
    "ingest",
    "key_file_path",
    "load_mapping",
    "load_or_create_key",
]
