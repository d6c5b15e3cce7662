"""Revision 0014_fleet: missions stored before it said their sprayer's state; a track source."""

from sqlalchemy import text
from sqlmodel import Session

from traceability.db import migrate
from traceability.models import Mission, MissionSource


def test_missions_stored_before_keep_a_known_sprayer_state(fresh_db):
    migrate(fresh_db, "0014_tlog_nodes")
    with fresh_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO missions (mission_id, drone_code, status, planned_field_codes,"
                " flags, zones, point_count, dirty, created_at)"
                " VALUES ('M-OLD', 'D-1', 'complete', '[]', '[]', '[]', 0, :no, :at)"
            ),
            {"no": False, "at": "2026-03-01 00:00:00"},
        )

    migrate(fresh_db)

    with Session(fresh_db) as s:
        (m,) = s.query(Mission).all()
        assert (m.mission_id, m.sprayer_state_unknown) == ("M-OLD", False)
        s.add(
            Mission(
                mission_id="M-NEW",
                drone_code="D-1",
                sprayer_state_unknown=True,
                source=MissionSource.track,
            )
        )
        s.commit()
        new = s.get(Mission, 2)
        assert (new.sprayer_state_unknown, new.source) == (True, "track")
