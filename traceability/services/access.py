"""Who may see and change what: every access rule of agritrace, in one place.

The roles (README, "Roles and organisations"):

- ``admin`` — everything.
- ``office`` (the agriculture office) — reads everything, writes nothing.
- ``cooperative`` (a user of a cooperative) — manages the cooperative's member farmers:
  creates them, their fields, seasons and lots; reads their diaries, the drone
  missions that touched their fields and the rows of their fields in the field reports.
- ``operator`` (a user of a drone service) — the service's own drones and their
  missions, flight logs and rejected messages; reads diaries without their notes,
  suppliers, buyers or who applied an input.
- ``farmer`` — their own farmer record, the diary of their own fields, their seasons and
  lots, the drone missions that touched their fields, and the field-season and
  low-emission rice reports of their fields.

Everyone signed in reads the catalogue of inputs, the fields' map, seasons, lots,
organisations and administrative units. Services and routes ask these functions;
none of them decides on its own.

Each ``*_scope`` function answers with a SQL selectable of the ids (or codes) the
user may see, or ``None`` for "all of them"; each ``ensure_*`` raises ``Forbidden``
with a sentence saying why.
"""

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import exists, false
from sqlmodel import Session, select

from traceability.errors import Forbidden, NotFound
from traceability.models import (
    DiaryEntriesPublic,
    DiaryEntryPublic,
    Drone,
    Farmer,
    FarmField,
    Mission,
    MissionField,
    Role,
    User,
)

ALL = None
# Methods that only read; anything else is a write, and the office writes nothing.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The roles that see every record (none of the limits below applies to them).
SEES_ALL = frozenset({Role.admin, Role.office})


# The one record the office keeps itself: a product's registration number, read from its
# label or certificate (``PATCH /api/v1/inputs/{code}``). It touches no farmer's record.
OFFICE_WRITES = re.compile(r"/api/v1/inputs/[^/]+")


def ensure_may_write(user: User, method: str, path: str = "") -> None:
    """The office reads everything and writes nothing but products' registration numbers."""
    if user.role is not Role.office or method.upper() in READ_METHODS:
        return
    if method.upper() == "PATCH" and OFFICE_WRITES.fullmatch(path):
        return
    raise Forbidden("the agriculture office reads every record but writes none")


# ---------------------------------------------------------------- farmers


def farmer_scope(user: User) -> Any:
    """The farmers whose records ``user`` reads and manages: a selectable of ids, or ALL."""
    if user.role in SEES_ALL:
        return ALL
    if user.role is Role.farmer:
        return select(Farmer.id).where(Farmer.id == user.farmer_id)
    if user.role is Role.cooperative:
        return select(Farmer.id).where(Farmer.organisation_id == user.organisation_id)
    return select(Farmer.id).where(false())


def reads_farmers(user: User) -> None:
    """Farmers' records are not for drone operators."""
    if user.role is Role.operator:
        raise Forbidden("farmers' records are for admins, the office, cooperatives and farmers")


def _manages_farmer(session: Session, user: User, farmer_id: int | None) -> bool:
    if user.role is Role.admin:
        return True
    if user.role is Role.farmer:
        return farmer_id is not None and user.farmer_id == farmer_id
    if user.role is Role.cooperative and farmer_id is not None:
        farmer = session.get(Farmer, farmer_id)
        return farmer is not None and farmer.organisation_id == user.organisation_id
    return False


def ensure_reads_farmer(session: Session, user: User, farmer_id: int) -> None:
    """Raise unless ``user`` may read this farmer's record."""
    reads_farmers(user)
    if user.role is Role.office or _manages_farmer(session, user, farmer_id):
        return
    if user.role is Role.cooperative:
        raise Forbidden(f"farmer {farmer_id} is not a member of your cooperative")
    raise Forbidden("you may read only your own farmer record")


def issues_signin_links(user: User, farmer: Farmer) -> bool:
    """Whether ``user`` may issue sign-in links for ``farmer`` and manage their phones:
    an admin, or the farmer's cooperative."""
    if user.role is Role.admin:
        return True
    return (
        user.role is Role.cooperative
        and farmer.organisation_id is not None
        and farmer.organisation_id == user.organisation_id
    )


def reads_devices(user: User, farmer: Farmer) -> bool:
    """Whether ``user`` may see which phones are signed in for ``farmer``: those who
    manage them, and the office, which reads everything."""
    return user.role is Role.office or issues_signin_links(user, farmer)


def creates_farmers(user: User) -> None:
    """Farmers are recorded by admins, and by cooperatives adding their members."""
    if user.role not in (Role.admin, Role.cooperative):
        raise Forbidden("farmers are recorded by admins and cooperatives")


def farmer_organisation(user: User, requested: int | None) -> int | None:
    """The organisation a farmer created by ``user`` joins: a cooperative adds its members."""
    if user.role is Role.cooperative:
        if requested is not None and requested != user.organisation_id:
            raise Forbidden("a cooperative adds farmers to its own organisation only")
        return user.organisation_id
    creates_farmers(user)
    return requested


# ---------------------------------------------------------------- fields, seasons, lots


def ensure_manages_farmers(
    session: Session, user: User | None, farmer_ids: Iterable[int], what: str
) -> None:
    """Raise unless ``user`` manages every farmer named (their fields, seasons, lots).

    ``None`` is the system itself (fixtures, the ingester): it may do anything.
    """
    if user is None or user.role is Role.admin:
        return
    for farmer_id in set(farmer_ids):
        if not _manages_farmer(session, user, farmer_id):
            raise Forbidden(_not_yours(user, what))


def _not_yours(user: User, what: str) -> str:
    if user.role is Role.cooperative:
        return f"{what} is not of a member of your cooperative"
    if user.role is Role.farmer:
        return f"{what} is not one of your fields"
    return f"{what} is managed by its farmer, their cooperative or an admin, not by {user.role}"


def ensure_manages_field(session: Session, user: User | None, field: FarmField) -> None:
    """Raise unless ``user`` may start seasons or record lots on ``field``."""
    ensure_manages_farmers(session, user, [field.farmer_id], f"field '{field.code}'")


# ---------------------------------------------------------------- diaries


def ensure_writes_diary(user: User | None, field: FarmField) -> None:
    """Raise unless ``user`` may append to ``field``'s diary: its farmer or an admin.

    A cooperative reads its members' diaries but the entries are the farmer's own words;
    drone work reaches diaries through missions.
    """
    if user is None or user.role is Role.admin:
        return
    if user.role is Role.operator:
        raise Forbidden("operators' work reaches diaries through missions")
    if user.role is not Role.farmer or user.farmer_id != field.farmer_id:
        raise Forbidden(f"field '{field.code}' is not one of your fields")


def diary_field_scope(user: User) -> Any:
    """The fields whose diaries ``user`` reads: a selectable of field ids, or ALL.

    Operators read every diary (what was sprayed where), without the notes.
    """
    if user.role in SEES_ALL or user.role is Role.operator:
        return ALL
    return select(FarmField.id).where(FarmField.farmer_id.in_(farmer_scope(user)))


def ensure_reads_diary(session: Session, user: User, field: FarmField) -> None:
    """Raise unless ``user`` may read ``field``'s diary."""
    if user.role in SEES_ALL or user.role is Role.operator:
        return
    if not _manages_farmer(session, user, field.farmer_id):
        raise Forbidden(_not_yours(user, f"field '{field.code}'"))


# What a farmer typed that may name people: a phone number in a note, a supplier, a buyer.
_PERSONAL = ("note", "counterparty", "applied_by")


def shown_entry(user: User, entry: DiaryEntryPublic) -> DiaryEntryPublic:
    """An entry as ``user`` sees it: operators do not read what farmers typed about people
    (``note``, ``counterparty`` and ``applied_by`` null).

    The hash still covers them, so a farmer or the office can verify the chain.
    """
    if user.role is Role.operator:
        hidden = {k: None for k in _PERSONAL if getattr(entry, k) is not None}
        if hidden:
            return entry.model_copy(update=hidden)
    return entry


def shown_entries(user: User, entries: DiaryEntriesPublic) -> DiaryEntriesPublic:
    """A page of entries as ``user`` sees it (see ``shown_entry``)."""
    return entries.model_copy(update={"data": [shown_entry(user, e) for e in entries.data]})


# ---------------------------------------------------------------- drones and missions


def drone_scope(user: User) -> Any:
    """The drones ``user`` sees: a selectable of drone codes, or ALL."""
    if user.role in SEES_ALL:
        return ALL
    if user.role is Role.operator:
        return select(Drone.code).where(Drone.organisation_id == user.organisation_id)
    return select(Drone.code).where(false())


def reads_drones(user: User) -> None:
    """The fleet is for admins, the office and operators."""
    if user.role not in SEES_ALL and user.role is not Role.operator:
        raise Forbidden("the fleet is for admins, the office and drone operators")


def ensure_reads_drone(user: User, drone: Drone) -> None:
    """Raise unless ``user`` may read (and, as an operator, manage) ``drone``."""
    reads_drones(user)
    if user.role is Role.operator and drone.organisation_id != user.organisation_id:
        raise Forbidden(f"drone '{drone.code}' is not one of your organisation's drones")


def drone_organisation(user: User, requested: int | None) -> int | None:
    """The organisation a drone registered by ``user`` joins: an operator adds its own."""
    if user.role is Role.operator:
        if requested is not None and requested != user.organisation_id:
            raise Forbidden("an operator registers drones of its own organisation only")
        return user.organisation_id
    return requested


def own_drone_codes(session: Session, user: User) -> list[str] | None:
    """The codes of the drones ``user`` sees, or None for all of them."""
    scope = drone_scope(user)
    return None if scope is ALL else list(session.exec(scope).all())


def mission_filter(user: User) -> Any:
    """A SQL condition on ``Mission`` for the missions ``user`` sees, or None for all.

    Operators see their organisation's drones' missions; farmers and cooperatives the
    missions that treated one of their (members') fields.
    """
    if user.role in SEES_ALL:
        return None
    if user.role is Role.operator:
        return Mission.drone_code.in_(drone_scope(user))
    fields = select(FarmField.id).where(FarmField.farmer_id.in_(farmer_scope(user)))
    return exists().where(MissionField.mission_pk == Mission.id, MissionField.field_id.in_(fields))


def ensure_reads_mission(session: Session, user: User, mission_id: str) -> None:
    """Raise ``NotFound`` if there is no such mission, ``Forbidden`` unless ``user`` sees it."""
    pk = session.exec(select(Mission.id).where(Mission.mission_id == mission_id)).first()
    if pk is None:
        raise NotFound(f"mission '{mission_id}' does not exist")
    condition = mission_filter(user)
    if condition is None:
        return
    if session.exec(select(Mission.id).where(Mission.id == pk, condition)).first() is None:
        if user.role is Role.operator:
            raise Forbidden(f"mission '{mission_id}' was not flown by your organisation's drones")
        raise Forbidden(f"mission '{mission_id}' did not treat any of your fields")


# The reports a farmer reads about their own fields; a cooperative reads every report
# with a ``field_code`` column, limited to its members' fields.
FARMER_REPORTS = frozenset({"field-season", "low-emission-rice", "low-emission-mrv"})


def ensure_reads_report(user: User, name: str) -> None:
    """Raise before a report is built if ``user``'s role never reads it (see report_rows)."""
    if user.role is Role.farmer and name not in FARMER_REPORTS:
        raise Forbidden(
            f"the {name} report is not for farmers; a farmer reads "
            "field-season and low-emission-rice of their own fields"
        )


def ensure_reads_field_report(session: Session, user: User, field_code: str | None) -> None:
    """Raise unless ``user`` may read reports of the field ``field_code`` names (if any):
    a farmer their own fields, a cooperative its members'."""
    if field_code is None or user.role not in (Role.farmer, Role.cooperative):
        return
    field = session.exec(select(FarmField).where(FarmField.code == field_code)).first()
    if field is None:
        raise NotFound(f"field '{field_code}' does not exist")
    if not _manages_farmer(session, user, field.farmer_id):
        raise Forbidden(_not_yours(user, f"field '{field_code}'"))


def report_field_codes(session: Session, user: User) -> frozenset[str] | None:
    """The codes of the fields whose reports ``user`` reads, or None for all of them
    (admins, the office; an operator's rows are told by drone)."""
    if user.role not in (Role.farmer, Role.cooperative):
        return None
    fields = select(FarmField.code).where(FarmField.farmer_id.in_(farmer_scope(user)))
    return frozenset(session.exec(fields).all())


def report_rows(session: Session, user: User, name: str, frame: Any) -> Any:
    """A report's rows that ``user`` may read.

    Admins and the office read every row. An operator reads the rows of its
    organisation's drones in a report with a ``drone_code`` column (missions, fleet,
    pesticide records, field-season), never a hand entry's; the others (field
    applications, the province, low-emission rice: farmers' diaries) are not for
    operators. A cooperative reads the rows of its members' fields in a report with a
    ``field_code`` column; a farmer reads the field-season and low-emission rice reports
    of their own fields. Neither reads the fleet, missions or the province.
    """
    if user.role in SEES_ALL:
        return frame
    if user.role is Role.operator:
        return _operator_rows(session, user, name, frame)
    ensure_reads_report(user, name)
    codes = report_field_codes(session, user)
    if "field_code" not in frame.columns or codes is None:
        raise Forbidden(f"the {name} report is for admins and the office")
    return frame[frame["field_code"].isin(codes)].reset_index(drop=True)


def _operator_rows(session: Session, user: User, name: str, frame: Any) -> Any:
    if "drone_code" not in frame.columns:
        raise Forbidden(f"the {name} report is for admins and the office")
    codes = own_drone_codes(session, user) or []
    return frame[frame["drone_code"].isin(codes)].reset_index(drop=True)
