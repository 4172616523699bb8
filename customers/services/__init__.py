"""Writes of the customers app: the CSV import (parsing, loading, orchestration)."""

from __future__ import annotations

from .imports import (
    import_claim,
    import_create,
    import_create_stored,
    import_enqueue,
    import_rerun,
    import_run,
    import_undo,
)
from .parsing import ImportRefused

__all__ = ["ImportRefused", "import_claim", "import_create", "import_create_stored", "import_enqueue",
           "import_rerun", "import_run", "import_undo"]
