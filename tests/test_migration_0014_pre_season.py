"""Revision 0014_pre_season: a season's pre-season water as the farmer states it, added
to seasons written before without changing them."""

from sqlalchemy import text
from sqlmodel import Session

from tests.factories import Factory
from traceability.db import migrate
from traceability.services import fields


def test_seasons_written_before_state_nothing_and_can_state_it_after(fresh_db):
    migrate(fresh_db, "0014_fleet")
    with Session(fresh_db) as s:
        field = Factory(s).field()
        field_id = field.id
    with fresh_db.begin() as conn:
        # By SQL: the season table at 0013 has no pre_season_water column.
        season_id = conn.execute(
            text(
                "INSERT INTO seasons (field_id, crop, sown_on, created_at) "
                "VALUES (:f, 'lúa', '2026-01-05', '2026-01-05 00:00:00') RETURNING id"
            ),
            {"f": field_id},
        ).scalar_one()

    migrate(fresh_db)

    with fresh_db.connect() as conn:
        row = conn.execute(text("SELECT crop, pre_season_water FROM seasons")).one()
        assert tuple(row) == ("lúa", None)
    with Session(fresh_db) as s:
        season, _ = fields.state_pre_season(s, season_id=season_id, state="flooded_gt_30d")
        assert season.pre_season_water == "flooded_gt_30d"
        season, _ = fields.state_pre_season(s, season_id=season_id, state=None)
        assert season.pre_season_water is None
