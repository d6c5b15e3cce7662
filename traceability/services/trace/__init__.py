"""The buyer's trace of a lot: where it grew, what was done there, and whether the PHI was kept.

A trace is built in two parts. The *structure* of a lot — the lot itself, the lots
it was milled or mixed from, its fields with their polygons, the farmer's name and
village, the seasons — is written once, when the lot is recorded, and never changes
through the API, so it is cached per process. The *activity* — diary entries, drone
missions, the verification of each diary's hash chain and the PHI verdict — is read
and recomputed on every build, because diaries grow, late drone data arrives, and
a chain check that trusted a cache would not be a check. A rendered trace is stored
and served again (:mod:`.snapshot`) only while none of the rows it was built from has
changed, the hashes and heads the chain check read included.

- :mod:`.structure` — the lot, its lineage, fields and seasons, and their cache;
- :mod:`.field_map` — the fields drawn as SVG-ready polygons (pure geometry);
- :mod:`.activity` — the diary and mission rows read per request, and the chain check;
- :mod:`.events` — applications placed on the lots they count for, as public events;
- :mod:`.phi` — the PHI verdict on typed application records (pure);
- :mod:`.build` — :func:`build_trace`, the public JSON's one shape;
- :mod:`.snapshot` — rendered traces stored ahead of the scan, and the fingerprint of the
  rows they rest on that says whether they still hold;
- :mod:`.schema` — that shape as pydantic models, for OpenAPI and tests.

Only public facts leave this package: a farmer's name and village, never a phone,
national ID, user, author or operator id, and no free-text notes (a note is
whatever a farmer typed, phone numbers included).
"""

from traceability.services.trace.build import MAP_KEYS, build_trace, phi_verdict
from traceability.services.trace.phi import LOCAL_TZ_NAME, combine
from traceability.services.trace.structure import (
    DEFAULT_WINDOW_DAYS,
    STRUCTURE_TTL_S,
    Structure,
    TTLCache,
    clear_cache,
    lot_structure,
    on_clear,
)

__all__ = [
    "DEFAULT_WINDOW_DAYS",
    "LOCAL_TZ_NAME",
    "STRUCTURE_TTL_S",
    "Structure",
    "TTLCache",
    "MAP_KEYS",
    "build_trace",
    "clear_cache",
    "combine",
    "lot_structure",
    "on_clear",
    "phi_verdict",
]
