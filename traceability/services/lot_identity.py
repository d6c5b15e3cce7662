"""What a lot and its producer show a buyer beside the record: a photo, a brand, a certificate.

Circular 02/2024/TT-BKHCN asks a trace for the product's image, its brand, its shelf
life, and the producer's name, address and the standards it applies. A lot carries a
brand and a shelf life from its creation and a photo uploaded later (kept in the
database and served by the app, so the trace page loads nothing from elsewhere); a
cooperative carries its address (village and commune, never a person's), its brand
and its VietGAP certificate.
"""

import hashlib
import io
import warnings
from pathlib import Path

from PIL import Image, ImageOps
from sqlmodel import Session, select

from traceability.errors import Forbidden, InvalidInput
from traceability.models import (
    LOT_IMAGE_MAX_BYTES,
    FarmField,
    Lot,
    LotField,
    LotImage,
    Organisation,
    OrganisationKind,
    OrganisationUpdate,
    Role,
    User,
)
from traceability.services import access
from traceability.services.lots import ancestors, get_lot
from traceability.services.organisations import get_organisation
from traceability.services.trace import clear_cache

# A picture's first bytes say what it is; a declared type that disagrees is refused.
_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/webp": (b"RIFF",),
}
# Shown for a lot without a photo of its own: a small drawing shipped with the package.
DEFAULT_IMAGE = Path(__file__).resolve().parent.parent / "api" / "static" / "product.svg"
DEFAULT_IMAGE_TYPE = "image/svg+xml"
#: The most pixels a photo may decode to: a 24 MP camera's, not a 15000 × 15000 PNG of a
#: few hundred kilobytes that would take the server's memory (a decompression bomb).
MAX_PIXELS = 24_000_000
#: The kept copy's longest side: what a buyer's phone shows, and a copy within the size.
KEPT_SIDE = 1600
_PILLOW_FORMAT = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}


def _kind(data: bytes, media_type: str) -> str:
    """The declared picture type, or the one its first bytes show when none is declared."""
    kind = media_type.split(";")[0].strip().lower()
    if kind in ("", "application/octet-stream"):
        found = [k for k, magic in _MAGIC.items() if data.startswith(magic)]
        return found[0] if found else kind
    return kind


def _check_image(data: bytes, kind: str) -> None:
    if kind not in _MAGIC:
        raise InvalidInput(f"a lot's photo is PNG, JPEG or WebP, not '{kind or 'unknown'}'")
    if not data:
        raise InvalidInput("the photo is empty")
    if len(data) > LOT_IMAGE_MAX_BYTES:
        raise InvalidInput(
            f"the photo is {len(data)} bytes; at most {LOT_IMAGE_MAX_BYTES} are kept "
            "(a buyer's phone loads it on a weak signal)"
        )
    if not data.startswith(_MAGIC[kind]) or (kind == "image/webp" and data[8:12] != b"WEBP"):
        raise InvalidInput(f"the file is not a {kind} picture")


def _decoded(data: bytes, kind: str) -> Image.Image:
    """The picture ``data`` holds, decoded whole; :class:`InvalidInput` naming the problem."""
    try:
        with warnings.catch_warnings():
            # Pillow warns (and beyond twice its limit refuses) on a huge picture: an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data), formats=[_PILLOW_FORMAT[kind]])
            width, height = picture.size
            if width * height > MAX_PIXELS:
                raise InvalidInput(
                    f"the photo is {width} × {height} pixels; at most {MAX_PIXELS:,} are "
                    "decoded (a phone's photo has fewer)"
                )
            picture.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInput(f"the photo decodes to too many pixels: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidInput(f"the file is not a {kind} picture that can be read: {exc}") from exc
    return picture


def reencoded(data: bytes, kind: str) -> bytes:
    """A fresh ``kind`` file of the picture in ``data``: upright, at most
    :data:`KEPT_SIDE` pixels on its longest side, with none of the original's other bytes
    (metadata such as the GPS position of a farm, anything appended after the picture)."""
    picture = ImageOps.exif_transpose(_decoded(data, kind))
    picture.thumbnail((KEPT_SIDE, KEPT_SIDE))
    if kind == "image/jpeg" and picture.mode not in ("RGB", "L"):
        picture = picture.convert("RGB")
    elif picture.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        picture = picture.convert("RGBA")
    out = io.BytesIO()
    options = {"JPEG": {"quality": 85}, "WEBP": {"quality": 85}, "PNG": {"optimize": True}}
    fmt = _PILLOW_FORMAT[kind]
    picture.save(out, format=fmt, **options[fmt])
    return out.getvalue()


def _ensure_manages_lot(session: Session, user: User | None, lot: Lot) -> None:
    """Whoever may record lots on all of this lot's fields (its parents' fields, if milled)."""
    if user is not None and user.role is Role.office:
        raise Forbidden("the agriculture office reads lots; it does not change them")
    ids = [lot.id] + [p.id for p, _depth, _child in ancestors(session, lot=lot)]
    fields = session.exec(
        select(FarmField)
        .join(LotField, LotField.field_id == FarmField.id)
        .where(LotField.lot_id.in_(ids))
    ).all()
    for field in fields:
        access.ensure_manages_field(session, user, field)


def set_image(
    session: Session, *, code: str, data: bytes, media_type: str, user: User | None
) -> LotImage:
    """Keep ``data`` as the photo of lot ``code``, replacing any earlier one."""
    lot = get_lot(session, code=code)
    _ensure_manages_lot(session, user, lot)
    kind = _kind(data, media_type)
    _check_image(data, kind)
    # What is served is what was decoded and written again here, never the bytes sent: a
    # file that only starts like a picture (an HTML page behind a PNG's first bytes) is
    # either refused or reduced to its picture.
    data = reencoded(data, kind)
    if len(data) > LOT_IMAGE_MAX_BYTES:
        raise InvalidInput(
            f"the photo is {len(data)} bytes once re-encoded; at most {LOT_IMAGE_MAX_BYTES}"
        )
    image = session.get(LotImage, lot.id) or LotImage(lot_id=lot.id, media_type="", data=b"")
    image.media_type = kind
    image.data = data
    image.sha256 = hashlib.sha256(data).hexdigest()
    image.uploaded_by = user.id if user else None
    session.add(image)
    session.commit()
    clear_cache()
    return image


def image(session: Session, *, code: str) -> tuple[bytes, str, str]:
    """The photo of lot ``code`` as ``(bytes, media type, sha256)``: its own, or the default."""
    lot = get_lot(session, code=code)
    own = session.get(LotImage, lot.id)
    if own is not None:
        return own.data, own.media_type, own.sha256
    data = DEFAULT_IMAGE.read_bytes()
    return data, DEFAULT_IMAGE_TYPE, hashlib.sha256(data).hexdigest()


def update_organisation(
    session: Session, *, code: str, data: OrganisationUpdate, user: User
) -> Organisation:
    """Change an organisation's public facts: its own cooperative's users, or the admin."""
    org = get_organisation(session, code=code)
    if user.role is not Role.admin and not (
        user.role is Role.cooperative and user.organisation_id == org.id
    ):
        raise Forbidden("only the cooperative itself or the admin changes its public facts")
    if org.kind is not OrganisationKind.cooperative and data.certificate_no:
        raise InvalidInput("a certificate belongs to a cooperative (a producer)")
    for name, value in data.model_dump(exclude_unset=True).items():
        setattr(org, name, value)
    start, end = org.certificate_valid_from, org.certificate_valid_to
    if start and end and end < start:
        raise InvalidInput("certificate_valid_to is before certificate_valid_from")
    session.add(org)
    session.commit()
    session.refresh(org)
    # Traces show the cooperative's facts: forget those rendered with the old ones.
    clear_cache()
    return org
