"""``python -m evaluation.ingest PATH...`` (same as ``python -m evaluation ingest``)."""

from evaluation.ingest.cli import main

raise SystemExit(main())
