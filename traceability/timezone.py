"""Vietnam time, defined once for the whole house.

People in Cà Mau read every time and every day in Vietnam time (UTC+7, no daylight
saving since 1975); the record stores UTC. This module imports nothing from the app, so
anything may use it.
"""

from zoneinfo import ZoneInfo

#: The IANA name, for databases that convert times themselves (PostgreSQL's ``timezone()``).
VN_TZ_NAME = "Asia/Ho_Chi_Minh"
#: Vietnam time.
VN_TZ = ZoneInfo(VN_TZ_NAME)
