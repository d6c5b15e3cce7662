"""What a drone's diary line chains about its mission: the measured figures and a digest
of its points.

A drone line is the mission's evidence in the field's hash chain. The mission's own
rows (its times, its per-field result) are not hashed, so the line carries the figures
a verdict rests on — product, start and end, area treated, amount and dose — and the
SHA-256 of the fixes it was measured from. Editing the mission in SQL afterwards leaves
the line, and the chain, saying what was measured (see ``services.trace.chained``).
"""

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any


def iso_seconds(ts: datetime | None) -> str | None:
    """An aware timestamp in UTC to the second, as a drone line chains it."""
    return ts.astimezone(UTC).isoformat(timespec="seconds") if ts else None


def points_digest(fixes: Iterable[tuple[float, float, float, bool]]) -> str:
    """SHA-256 over the fixes in time order, one line each: ``epoch,lon,lat,spraying``.

    Seconds to the millisecond, degrees to 7 decimals (about a centimetre), spraying 0/1.

    >>> points_digest([]) == hashlib.sha256(b"").hexdigest()
    True
    >>> points_digest([(1.0, 105.7, 9.28, True)]) == hashlib.sha256(
    ...     b"1.000,105.7000000,9.2800000,1\\n").hexdigest()
    True
    """
    h = hashlib.sha256()
    for t, lon, lat, spraying in fixes:
        h.update(f"{t:.3f},{lon:.7f},{lat:.7f},{1 if spraying else 0}\n".encode())
    return h.hexdigest()


def line_figures(
    mission: Any,
    *,
    area_ha: float,
    quantity: float | None,
    unit: str | None,
    applied_amount: float,
    amount_unit: str | None,
    points_sha256: str | None,
) -> dict[str, Any]:
    """The ``mission`` part of a drone line's chained figures."""
    return {
        "mission_id": mission.mission_id,
        "product_code": mission.product_code,
        "started_at": iso_seconds(mission.started_at),
        "ended_at": iso_seconds(mission.ended_at),
        "first_fix_at": iso_seconds(mission.first_fix_at),
        "last_fix_at": iso_seconds(mission.last_fix_at),
        "treated_area_ha": area_ha,
        "quantity": quantity,
        "unit": unit,
        "applied_amount": round(float(applied_amount), 6),
        "amount_unit": amount_unit,
        "dose_per_ha": round(quantity / area_ha, 6) if quantity is not None and area_ha else None,
        "points_sha256": points_sha256,
    }
