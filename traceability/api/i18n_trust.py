"""Words of the trace page's trust parts (amendments, records against the chain, drone
clock warnings, checkpoints) in Vietnamese and English, and times in Vietnam time."""

from datetime import datetime
from typing import Any

from traceability.services.common import LOCAL_TZ

TRUST_STRINGS: dict[str, dict[str, str]] = {
    "amendments": {
        "vi": "Sửa đổi nhật ký sau khi ghi lô",
        "en": "Diary amendments after the lot was recorded",
    },
    "amend_withdrawal": {"vi": "Rút bỏ ghi chép", "en": "Withdrawal of entry"},
    "amend_correction": {"vi": "Sửa ghi chép", "en": "Correction of entry"},
    "amend_after": {"vi": "Sau khi sửa", "en": "Amended to"},
    "recorded_by": {"vi": "Ghi lúc {when}, bởi {role}", "en": "Recorded {when} by {role}"},
    "amend_pending": {
        "vi": "Chưa được thẩm định: kết quả tính theo nhật ký lúc ghi lô. "
        "Nếu được chấp nhận, kết quả sẽ là: {verdict}",
        "en": "Not reviewed: the verdict uses the diary as it stood when the lot was "
        "recorded. If accepted, it would be: {verdict}",
    },
    "amend_accepted": {
        "vi": "Tổ chức chứng nhận đã chấp nhận lúc {when} ({role}); kết quả tính theo "
        "nhật ký đã sửa",
        "en": "Accepted by the certifying body {when} ({role}); the verdict uses the amended diary",
    },
    "amend_worse": {
        "vi": "Sửa đổi làm kết quả xấu đi nên được tính ngay",
        "en": "It makes the verdict worse, so it counts at once",
    },
    "role_farmer": {"vi": "nông dân", "en": "a farmer"},
    "role_cooperative": {"vi": "hợp tác xã", "en": "a cooperative"},
    "role_operator": {"vi": "đơn vị bay drone", "en": "a drone operator"},
    "role_admin": {"vi": "quản trị viên", "en": "an administrator"},
    "role_office": {"vi": "cơ quan nông nghiệp", "en": "the agriculture office"},
    "role_drone": {"vi": "hệ thống drone", "en": "the drone system"},
    "role_unknown": {"vi": "không rõ", "en": "unknown"},
    "records_vs_chain": {
        "vi": "Dữ liệu khác với chuỗi băm",
        "en": "Records disagree with the hash chain",
    },
    "discrepancy": {
        "vi": "Ghi chép {entry}: trong chuỗi băm {what} là {chained}, bản ghi hiện nay là "
        "{recorded}. Kết quả dùng giá trị trong chuỗi.",
        "en": "Entry {entry}: the chain holds {what} = {chained}, the record now says "
        "{recorded}. The verdict uses the chained value.",
    },
    "what_phi_days": {"vi": "thời gian cách ly (ngày)", "en": "the PHI (days)"},
    "what_max_dose_per_ha": {"vi": "liều tối đa mỗi ha", "en": "the maximum dose per ha"},
    "what_started_at": {"vi": "giờ bắt đầu bay", "en": "the flight's start"},
    "what_ended_at": {"vi": "giờ kết thúc bay", "en": "the flight's end"},
    "what_treated_area_ha": {"vi": "diện tích phun (ha)", "en": "the area treated (ha)"},
    "what_product_code": {"vi": "mã thuốc", "en": "the product code"},
    "what_mission": {"vi": "chuyến bay", "en": "the mission"},
    "mission_warnings": {"vi": "Cảnh báo chuyến bay drone", "en": "Drone mission warnings"},
    "mw_before_season": {
        "vi": "Chuyến bay {mission} trên thửa {field} ngày {date}, trước khi bắt đầu vụ ({start})",
        "en": "Mission {mission} on field {field} on {date}, before the season began ({start})",
    },
    "mw_after_harvest": {
        "vi": "Chuyến bay {mission} trên thửa {field} ngày {date}, sau khi thu hoạch lô {lot} "
        "({end})",
        "en": "Mission {mission} on field {field} on {date}, after lot {lot} was harvested ({end})",
    },
    "mw_no_time": {
        "vi": "Chuyến bay {mission} trên thửa {field} không có thời gian bay",
        "en": "Mission {mission} on field {field} has no flight time",
    },
    "mw_far_from_field": {
        "vi": "Chuyến bay {mission} ghi là phun thửa {field}, nhưng điểm định vị gần nhất cách "
        "thửa {distance} m",
        "en": "Mission {mission} was planned for field {field}, but its nearest fix is "
        "{distance} m away",
    },
    "mw_counted": {"vi": "Được tính vào thời gian cách ly", "en": "Counted in the PHI"},
    "mw_not_counted": {
        "vi": "Không tính vào thời gian cách ly của lô này",
        "en": "Not counted in this lot's PHI",
    },
    "anchored": {
        "vi": "Đã neo vào điểm kiểm tra số {n} ngày {date}",
        "en": "Anchored in checkpoint {n} of {date}",
    },
    "not_anchored": {
        "vi": "Chưa được neo vào điểm kiểm tra nào",
        "en": "Not yet anchored in a checkpoint",
    },
    "witnessed_by": {
        "vi": "Nhân chứng độc lập đã đồng ký: {names}",
        "en": "Cosigned by independent witnesses: {names}",
    },
    "anchor_broken": {
        "vi": "Nhật ký không còn khớp với điểm kiểm tra đã ký: đã bị viết lại sau khi neo",
        "en": "The diary no longer matches the signed checkpoint: it was rewritten after "
        "it was anchored",
    },
}


def local_time(value: Any, lang: str) -> str:
    """An RFC 3339 time (or aware datetime) in Vietnam time, as ``lang`` writes it.

    >>> local_time("2026-04-12T01:30:00Z", "vi"), local_time("2026-04-12T01:30:00Z", "en")
    ('12/04/2026 08:30', '2026-04-12 08:30')
    """
    if not value:
        return "–"
    ts = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    local = ts.astimezone(LOCAL_TZ)
    return local.strftime("%d/%m/%Y %H:%M" if lang == "vi" else "%Y-%m-%d %H:%M")
