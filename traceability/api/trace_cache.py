"""Rendered traces kept while nothing they rest on has changed, and answered with an ETag.

A buyer's scan is read far more often than a diary is written: the rendered body of a
lot's trace (the JSON, or the page in one language) is kept per worker and served again
only while the lot's *fingerprint* is the one it was built from. On PostgreSQL every row
version has its own ``xmin``; the fingerprint sums them (with counts and newest ids)
over the diaries, missions and per-field results of all the lot's fields, the fields'
recorded diary heads, the product catalogue, the reviewer's acceptances of amendments,
missions claiming the fields, and the newest transparency checkpoint (a trace carries
its inclusion proofs). Any INSERT, UPDATE or DELETE — through the API or behind its back
— changes it, so a tampered diary is never answered from the cache. SQLite has no such
column: there, every request is rebuilt.

The fingerprint names every table ``services.trace.build_trace`` reads beyond the
lot's cached structure: a trace that starts reading another must add it here.
"""

import hashlib
from collections.abc import Callable

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import text
from sqlmodel import Session

from traceability.services import trace

# Rendered bodies are 5-20 kB: 10,000 of them stay well under 200 MB per worker.
RESPONSE_CACHE_SIZE = 10_000
# Short public caching: a scan in a shop re-opened a minute later need not hit the database.
CACHE_HEADERS = {"Cache-Control": "public, max-age=60"}

_FINGERPRINT_COLS = """
      (SELECT count(*) || ':' || coalesce(max(id), 0) || ':'
              || coalesce(sum(xmin::text::bigint), 0)
         FROM diary_entries WHERE field_id = ANY(:ids)) AS diary,
      (SELECT count(*) || ':' || coalesce(sum(mf.xmin::text::bigint + m.xmin::text::bigint), 0)
         FROM mission_fields mf JOIN missions m ON m.id = mf.mission_pk
        WHERE mf.field_id = ANY(:ids)) AS missions,
      (SELECT coalesce(sum(xmin::text::bigint), 0) FROM fields WHERE id = ANY(:ids)) AS heads,
      (SELECT coalesce(sum(xmin::text::bigint), 0) || ':' || count(*) FROM inputs) AS products,
      (SELECT count(*) || ':' || coalesce(max(id), 0) || ':'
              || coalesce(sum(xmin::text::bigint), 0)
         FROM amendment_acceptances) AS accepted,
      (SELECT coalesce(max(id), 0) FROM log_checkpoints) AS checkpoint,
      (SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0)
         FROM mission_claims WHERE field_id = ANY(:ids)) AS claims
"""
_FINGERPRINT = text(f"SELECT {_FINGERPRINT_COLS}")
# A repeat scan in one round trip: the lot (is it still the one we cached?) and its fingerprint.
_LOOKUP_FINGERPRINT = text(
    f"SELECT l.id, l.created_at, {_FINGERPRINT_COLS} FROM lots l WHERE l.code = :code"
)

# (url, lot id, structure loaded_at, base_url, variant) -> (fingerprint, body).
_responses = trace.TTLCache(RESPONSE_CACHE_SIZE, trace.STRUCTURE_TTL_S)
# (url, code) -> (lot id, created_at, Structure), for the one-round-trip path; it expires
# with the structure it holds.
_by_code = trace.TTLCache(RESPONSE_CACHE_SIZE, trace.STRUCTURE_TTL_S)


def clear() -> None:
    """Forget every rendered trace."""
    _responses.clear()
    _by_code.clear()


# Clearing the lot structures (``trace.clear_cache()``) clears the bodies built from them.
trace.on_clear(clear)


def _fingerprint(session: Session, st: trace.Structure) -> tuple | None:
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return None
    return tuple(conn.execute(_FINGERPRINT, {"ids": list(st.fields)}).one())


def render_trace(
    session: Session,
    *,
    code: str,
    base_url: str | None,
    variant: tuple,
    render: Callable[[dict], bytes],
    with_map: bool = False,
) -> bytes:
    """``render(build_trace(...))``, answered from the cache while nothing it rests on changed.

    ``variant`` names the rendering (e.g. JSON, or the page in one language). On
    PostgreSQL a repeat scan costs one query; SQLite rebuilds every time. Raises
    ``NotFound`` if there is no such lot.
    """
    conn = session.connection()
    url = str(session.get_bind().url)
    fp = None
    st = None
    known = _by_code.get((url, code)) if conn.dialect.name == "postgresql" else None
    if known is not None:
        lot_id, created_at, cached = known
        row = conn.execute(_LOOKUP_FINGERPRINT, {"code": code, "ids": list(cached.fields)}).first()
        if row is not None and (row.id, row.created_at) == (lot_id, created_at):
            st, fp = cached, tuple(row[2:])
    if st is None:
        st = trace.lot_structure(session, code=code)
        fp = _fingerprint(session, st)
    key = (url, st.lot.id, st.loaded_at, base_url, variant)
    if fp is not None:
        hit = _responses.get(key)
        if hit is not None and hit[0] == fp:
            return hit[1]
    # Through the package, so the one build_trace is the one called (and the one patched).
    data = trace.build_trace(session, code=code, base_url=base_url, with_map=with_map, st=st)
    body = render(data)
    if fp is not None:
        # Taken before the rows were read: a write in between only makes the next request
        # rebuild, never serve something older than its fingerprint.
        _responses.put(key, (fp, body))
        _by_code.put((url, code), (st.lot.id, st.created_at, st), since=st.loaded_at)
    return body


def answer(
    request: Request, body: bytes, media_type: str, response_class: type[Response] = Response
) -> Response:
    """``body`` with an ETag; a phone that already holds this version gets a bodiless 304."""
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = CACHE_HEADERS | {"ETag": etag, "Vary": "Accept-Encoding"}
    if etag in (request.headers.get("if-none-match") or ""):
        return Response(status_code=304, headers=headers)
    return response_class(body, media_type=media_type, headers=headers)
