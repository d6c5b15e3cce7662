"""The demo's organisations and users: a way in for every role on the demo's machine.

A cooperative with the story's farmers as members, a drone service that owns the demo's
drones, the agriculture office, and a user of each role (farmer, cooperative, operator,
office, admin), each given a fresh token on every run (only a token's hash is kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

__all__ = [
    "DEMO_COOPERATIVE",
    "DEMO_DRONE_SERVICE",
    "DEMO_OFFICE",
    "DemoResult",
    "cooperative",
    "sign_ins",
]


@dataclass
class DemoResult:
    """What the demo set up, for the banner, the landing page and tests (here, beside the
    people it signs in, so that this module needs nothing from :mod:`agritrace.demo`)."""

    base_url: str
    admin_token: str = ""
    farmer_token: str | None = None
    #: A token per role (farmer, cooperative, operator, office, admin), in that order.
    tokens: dict[str, str] = field(default_factory=dict)
    #: The farmer's one-time sign-in link to the farmers' app (a path on the demo's site).
    farmer_link: str | None = None
    mission_ids: list[str] = field(default_factory=list)
    missions_complete: int = 0
    flew: bool = False
    lots: list[str] = field(default_factory=list)
    milled_lot: str | None = None
    simulation: dict[str, Any] = field(default_factory=dict)


def ensure_user(
    session: Session,
    *,
    name: str,
    role,
    farmer_id: int | None = None,
    organisation_code: str | None = None,
):
    """The user of this name and role (made on first use) with a fresh token."""
    from sqlmodel import select

    from traceability.models import User, UserCreate
    from traceability.services import users

    found = session.exec(
        select(User).where(User.name == name, User.role == role, User.farmer_id == farmer_id)
    ).first()
    if found is None:
        data = UserCreate(
            name=name, role=role, farmer_id=farmer_id, organisation_code=organisation_code
        )
        return users.create_user(session, data=data)
    # Only a token's hash is kept: a rerun can show a token only by issuing a new one.
    _token, secret = users.issue_token(session, user_id=found.id)
    return found, secret


# The story's cooperative: what a trace shows of its producer (Circular 02/2024/TT-BKHCN).
DEMO_COOPERATIVE = {
    "code": "HTX-DEMO",
    "name": "HTX Nông nghiệp Phong Thạnh (bản chạy thử)",
    "kind": "cooperative",
    "address": "xã Phong Thạnh, tỉnh Cà Mau",
    "brand": "Gạo ST25 Giá Rai",
    "certificate_standard": "VietGAP",
    "certificate_no": "VG-DEMO-2026-001",
    "certificate_issuer": "Tổ chức chứng nhận (mẫu của bản chạy thử)",
}


# The drone service that owns the demo's drones, and the office that reads everything.
DEMO_DRONE_SERVICE = {
    "code": "DV-DEMO",
    "name": "Tổ dịch vụ bay phun Giá Rai (bản chạy thử)",
    "kind": "drone_service",
    "address": "phường Giá Rai, tỉnh Cà Mau",
}
DEMO_OFFICE = {
    "code": "SNN-DEMO",
    "name": "Sở Nông nghiệp và Môi trường tỉnh Cà Mau (bản chạy thử)",
    "kind": "office",
    "address": "tỉnh Cà Mau",
}


def _organisation(session: Session, spec: dict[str, Any], **extra: Any):
    """The organisation of ``spec["code"]``, made from ``spec`` on first use."""
    from sqlmodel import select

    from traceability.models import Organisation, OrganisationCreate
    from traceability.services.organisations import create_organisation

    org = session.exec(select(Organisation).where(Organisation.code == spec["code"])).first()
    if org is None:
        org = create_organisation(session, data=OrganisationCreate(**spec, **extra))
    return org


def cooperative(session: Session, field_codes: list[str]) -> None:
    """The story's cooperative, certified for two years from a year ago, with the story's
    farmers as members (those not yet in one)."""
    from sqlmodel import select

    from traceability.models import Farmer, FarmField

    start = date.today() - timedelta(days=365)
    org = _organisation(
        session,
        DEMO_COOPERATIVE,
        certificate_valid_from=start,
        certificate_valid_to=start + timedelta(days=3 * 365),
    )
    farmers = session.exec(
        select(Farmer)
        .join(FarmField, FarmField.farmer_id == Farmer.id)
        .where(FarmField.code.in_(field_codes), Farmer.organisation_id.is_(None))
    ).all()
    for farmer in farmers:
        farmer.organisation_id = org.id
        session.add(farmer)
    session.commit()


def sign_ins(engine: Engine, *, drones: list[str], field_code: str, result: DemoResult) -> None:
    """A way in for every role: the demo's ``drones`` owned by its drone service, a user (and
    a fresh token) per role, and a one-time link that signs in to the app the farmer of
    ``field_code`` (the story's first farmer)."""
    from sqlmodel import select

    from traceability.models import Drone, Role, SigninLinkCreate, User
    from traceability.services import fields, signin

    with Session(engine) as session:
        service = _organisation(session, DEMO_DRONE_SERVICE)
        drones = session.exec(
            select(Drone).where(Drone.code.in_(drones), Drone.organisation_id.is_(None))
        ).all()
        for drone in drones:
            drone.organisation_id = service.id
            session.add(drone)
        session.commit()
        _organisation(session, DEMO_OFFICE)
        staff = [
            ("cooperative", "demo cooperative", DEMO_COOPERATIVE["code"]),
            ("operator", "demo drone pilot", DEMO_DRONE_SERVICE["code"]),
            ("office", "demo agriculture office", DEMO_OFFICE["code"]),
        ]
        tokens = {"farmer": result.farmer_token} if result.farmer_token else {}
        for role, name, org in staff:
            _user, tokens[role] = ensure_user(
                session, name=name, role=Role(role), organisation_code=org
            )
        result.tokens = tokens | {"admin": result.admin_token}
        admin = session.exec(select(User).where(User.name == "demo admin")).first()
        farmer_id = fields.get_field(session, code=field_code).farmer_id
        _link, token = signin.issue_link(
            session, farmer_id=farmer_id, user=admin, valid_hours=SigninLinkCreate().valid_hours
        )
        result.farmer_link = signin.link_url("", token)
