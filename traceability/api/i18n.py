"""Words of the public pages in Vietnamese (the default) and English."""

from datetime import datetime, timedelta, timezone
from typing import Any

from traceability.api.i18n_trust import TRUST_STRINGS, local_time

VN = timezone(timedelta(hours=7))

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"

_STRINGS: dict[str, dict[str, str]] = {
    "title": {"vi": "Truy xuất nguồn gốc", "en": "Product traceability"},
    "lot": {"vi": "Lô hàng", "en": "Lot"},
    "product": {"vi": "Sản phẩm", "en": "Product"},
    "harvest_date": {"vi": "Ngày thu hoạch", "en": "Harvest date"},
    "processing_date": {"vi": "Ngày chế biến", "en": "Processing date"},
    "quantity": {"vi": "Khối lượng", "en": "Quantity"},
    "gtin": {"vi": "Mã GTIN", "en": "GTIN"},
    "origin": {"vi": "Vùng trồng", "en": "Where it grew"},
    "brand": {"vi": "Nhãn hiệu", "en": "Brand"},
    "producer": {"vi": "Cơ sở sản xuất", "en": "Producer"},
    "shelf_life": {"vi": "Hạn sử dụng", "en": "Shelf life"},
    "best_before": {"vi": "dùng tốt nhất trước", "en": "best before"},
    "not_declared": {"vi": "chưa khai báo", "en": "not declared"},
    "trace_codes": {"vi": "Mã truy vết", "en": "Trace codes"},
    "trace_code": {"vi": "mã truy vết", "en": "trace code"},
    "location_code": {"vi": "mã địa điểm", "en": "location code"},
    "standards": {"vi": "Tiêu chuẩn áp dụng", "en": "Standards applied"},
    "certificate_no": {"vi": "số", "en": "no."},
    "valid": {"vi": "hiệu lực", "en": "valid"},
    "cert_valid_true": {"vi": "còn hiệu lực ngày thu hoạch", "en": "valid on the harvest day"},
    "cert_valid_false": {
        "vi": "không hiệu lực ngày thu hoạch",
        "en": "not valid on the harvest day",
    },
    "cert_valid_none": {"vi": "không rõ hiệu lực", "en": "validity unknown"},
    "no_certificate": {"vi": "chưa có chứng nhận", "en": "no certificate recorded"},
    "national_basis": {
        "vi": "Thông tin truy xuất tối thiểu theo Thông tư 02/2024/TT-BKHCN; mã theo TCVN 13274.",
        "en": "Minimum trace data under Circular 02/2024/TT-BKHCN; codes per TCVN 13274.",
    },
    "field": {"vi": "Thửa ruộng", "en": "Field"},
    "area": {"vi": "Diện tích", "en": "Area"},
    "farmer": {"vi": "Nông dân", "en": "Farmer"},
    "village": {"vi": "Ấp/xã", "en": "Village"},
    "season": {"vi": "Mùa vụ", "en": "Season"},
    "sown_on": {"vi": "Ngày gieo sạ", "en": "Sown on"},
    "variety": {"vi": "Giống", "en": "Variety"},
    "no_season": {
        "vi": "Chưa ghi mùa vụ: xét {days} ngày trước thu hoạch",
        "en": "No season recorded: the {days} days before harvest are considered",
    },
    "timeline": {"vi": "Nhật ký mùa vụ", "en": "Season timeline"},
    "no_events": {"vi": "Chưa có ghi chép nào.", "en": "Nothing recorded yet."},
    "phi": {"vi": "Thời gian cách ly", "en": "Pre-harvest interval (PHI)"},
    "phi_verdict": {"vi": "Thời gian cách ly thuốc BVTV", "en": "Pesticide use"},
    "phi_true": {"vi": "Đạt", "en": "PHI respected"},
    "phi_false": {"vi": "Không đạt", "en": "PHI not respected"},
    "phi_none": {"vi": "Chưa đủ thông tin", "en": "Not enough information"},
    "no_pesticide": {
        "vi": "Không sử dụng thuốc bảo vệ thực vật trong mùa vụ",
        "en": "No pesticide applied in the season",
    },
    "last_application": {"vi": "Lần phun cuối", "en": "Last spray"},
    "waited_head": {"vi": "Đã cách ly", "en": "Waited"},
    "waited": {"vi": "{n}/{m} ngày", "en": "{n} of {m} days"},
    "waited_unknown": {
        "vi": "{n} ngày (không rõ thời gian cách ly quy định)",
        "en": "{n} days (required PHI unknown)",
    },
    "rests_on_parents": {
        "vi": "Lô này được xay xát/phối trộn từ các lô dưới đây; kết quả dựa trên kết quả "
        "của từng lô:",
        "en": "This lot was milled or mixed from the lots below; its verdict rests on theirs:",
    },
    "no_pesticide_own": {
        "vi": "Không sử dụng thuốc bảo vệ thực vật trên ruộng của chính lô này",
        "en": "No pesticide applied on this lot's own fields",
    },
    "earliest_safe": {"vi": "Ngày thu hoạch sớm nhất an toàn", "en": "Earliest safe harvest"},
    "days": {"vi": "ngày", "en": "days"},
    "unknown": {"vi": "không rõ", "en": "unknown"},
    "unknown_application": {
        "vi": "Lần phun không rõ thuốc hoặc ngày",
        "en": "Spray with unknown product or date",
    },
    "parents": {"vi": "Được chế biến/phối trộn từ các lô", "en": "Milled or mixed from the lots"},
    "integrity": {"vi": "Tính toàn vẹn của nhật ký", "en": "Diary integrity"},
    "chain_ok": {
        "vi": "Chuỗi mã băm hợp lệ: nhật ký không bị sửa",
        "en": "Hash chain verified: the diary has not been altered",
    },
    "chain_broken": {
        "vi": "Chuỗi mã băm bị phá vỡ: nhật ký đã bị sửa sau khi ghi",
        "en": "Hash chain broken: the diary was altered after it was written",
    },
    "entries": {"vi": "mục", "en": "entries"},
    "by_drone": {"vi": "bằng máy bay không người lái", "en": "by drone"},
    "by_hand": {"vi": "thủ công", "en": "by hand"},
    "dose": {"vi": "Liều lượng", "en": "Dose"},
    "coverage": {"vi": "độ phủ", "en": "coverage"},
    "language": {"vi": "English", "en": "Tiếng Việt"},
    "not_found_title": {"vi": "Không tìm thấy lô hàng", "en": "Lot not found"},
    "not_found_text": {
        "vi": "Không có lô hàng nào mang mã này. Vui lòng kiểm tra lại mã trên bao bì.",
        "en": "No lot carries this code. Please check the code printed on the bag.",
    },
    "bad_request_title": {"vi": "Mã không hợp lệ", "en": "Invalid code"},
    "bad_request_text": {
        "vi": "Đường dẫn này không phải là một mã GS1 Digital Link hợp lệ của lô hàng. "
        "Vui lòng quét lại mã QR trên bao bì.",
        "en": "This address is not a valid GS1 Digital Link of a lot. "
        "Please scan the QR code on the bag again.",
    },
    "gtin_not_digits": {
        "vi": "Mã GTIN “{gtin}” chỉ được gồm chữ số.",
        "en": "The GTIN “{gtin}” must be digits only.",
    },
    "gtin_length": {
        "vi": "Mã GTIN “{gtin}” có {length} chữ số; phải có 8, 12, 13 hoặc 14 chữ số.",
        "en": "The GTIN “{gtin}” has {length} digits; it must have 8, 12, 13 or 14.",
    },
    "bad_check_digit": {
        "vi": "Số kiểm tra của mã GTIN “{gtin}” sai (đúng ra phải là {expected}).",
        "en": "The check digit of the GTIN “{gtin}” is wrong (it should be {expected}).",
    },
    "bad_ai": {
        "vi": "Sau mã GTIN phải là số lô (AI 10), không phải AI {ai}.",
        "en": "The GTIN must be followed by a batch/lot number (AI 10), not AI {ai}.",
    },
    "bad_serial": {
        "vi": "Số sê-ri “{serial}” không hợp lệ: tối đa {max} ký tự, chỉ gồm chữ, số và dấu.",
        "en": "The serial number “{serial}” is not valid: at most {max} letters, digits and marks.",
    },
    "bad_lot": {
        "vi": "Số lô “{lot}” không hợp lệ: tối đa {max} ký tự, chỉ gồm chữ, số và dấu.",
        "en": "The lot number “{lot}” is not valid: at most {max} letters, digits and marks.",
    },
    "from_lots": {"vi": "từ các lô", "en": "from lots"},
    "map": {"vi": "Bản đồ thửa ruộng", "en": "Field map"},
    "locator": {"vi": "Vị trí trong tỉnh", "en": "Where in the province"},
    "schematic_outline": {"vi": "ranh giới vẽ phác", "en": "outline is a sketch"},
    "footer": {
        "vi": "Dữ liệu từ nhật ký sản xuất và máy bay phun thuốc, tỉnh Cà Mau.",
        "en": "Data from production diaries and spraying drones, Cà Mau province.",
    },
    "label_title": {"vi": "Nhãn truy xuất", "en": "Trace labels"},
    "scan": {"vi": "Quét để truy xuất nguồn gốc", "en": "Scan to trace"},
    "print": {"vi": "In nhãn", "en": "Print"},
    "status_open": {"vi": "chưa kết thúc", "en": "not finished"},
    # The landing page (/).
    "home_title": {"vi": "Truy xuất nguồn gốc nông sản", "en": "Farm produce traceability"},
    "home_intro": {
        "vi": "Từ bao gạo về tới những gì đã làm trên thửa ruộng: nhật ký sản xuất của "
        "nông dân và các chuyến bay của máy bay không người lái, tỉnh Cà Mau (vùng Bạc Liêu cũ).",
        "en": "From the bag of rice back to what was done on the field: farmers' production "
        "diaries and the flights of spraying drones, Cà Mau province (the former Bạc Liêu).",
    },
    "home_trace": {"vi": "Truy xuất một lô hàng", "en": "Trace a lot"},
    "home_trace_text": {
        "vi": "Trang mà điện thoại người mua mở khi quét mã QR trên bao bì.",
        "en": "The page a buyer's phone opens on scanning the QR code on the bag.",
    },
    "home_open_trace": {"vi": "Trang truy xuất", "en": "Trace page"},
    "home_no_lots": {"vi": "Chưa có lô hàng nào.", "en": "No lot recorded yet."},
    "home_labels": {"vi": "Nhãn in", "en": "Labels"},
    "home_farmers": {"vi": "Nông dân", "en": "Farmers"},
    "home_farmers_text": {
        "vi": "Nông dân ghi nhật ký trên điện thoại tại /app/, cả khi không có sóng, sau khi "
        "mở liên kết đăng nhập (hoặc mã QR) do hợp tác xã cấp.",
        "en": "Farmers keep their diary on a phone at /app/, with or without signal, after "
        "opening the sign-in link (or QR code) their cooperative issues.",
    },
    "home_signin_docs": {
        "vi": "Cấp liên kết đăng nhập trong tài liệu API",
        "en": "Issuing sign-in links, in the API docs",
    },
    "home_diary_docs": {"vi": "Nhật ký sản xuất trong tài liệu API", "en": "The diary API"},
    "home_office": {"vi": "Phòng Nông nghiệp", "en": "Agriculture office"},
    "home_office_text": {
        "vi": "Báo cáo (CSV, Excel hoặc JSON) cần mã đăng nhập: trong tài liệu API bấm "
        "Authorize rồi dán mã.",
        "en": "Reports (CSV, Excel or JSON) need a token: in the API docs press Authorize and "
        "paste it.",
    },
    "report_missions": {"vi": "Các chuyến bay", "en": "Missions"},
    "report_field-applications": {"vi": "Vật tư đã dùng theo thửa", "en": "Inputs per field"},
    "report_fleet": {"vi": "Đội máy bay", "en": "The fleet"},
    "report_pesticide-records": {
        "vi": "Hồ sơ sử dụng thuốc BVTV cho thanh tra",
        "en": "Pesticide records for inspectors",
    },
    "report_province": {"vi": "Toàn tỉnh theo xã và tuần", "en": "Province by commune and week"},
    "home_staff": {"vi": "Cán bộ, đơn vị bay, HTX", "en": "Office, operators, cooperatives"},
    "home_staff_text": {
        "vi": "Đăng nhập một lần bằng mã truy cập API; biểu đồ, bản đồ và báo cáo.",
        "en": "Sign in once with your API token; charts, maps and reports.",
    },
    "home_staff_office": {"vi": "Bảng điều khiển phòng nông nghiệp", "en": "Office dashboard"},
    "home_staff_operator": {"vi": "Ngày bay của đơn vị", "en": "Operator's day"},
    "home_staff_coop": {"vi": "Trang hợp tác xã", "en": "Cooperative page"},
    "home_developers": {"vi": "Lập trình viên", "en": "Developers"},
    "home_docs": {"vi": "Tài liệu API", "en": "API docs"},
    "home_openapi": {"vi": "Đặc tả OpenAPI (JSON)", "en": "OpenAPI (JSON)"},
    "home_demo": {"vi": "Bản chạy thử", "en": "The demo"},
    "home_clock": {"vi": "Giờ mô phỏng", "en": "Simulated time"},
    "home_speed": {"vi": "nhanh gấp {speed} lần", "en": "{speed}× real time"},
    "home_missions": {"vi": "Chuyến bay", "en": "Missions"},
    "home_entries": {"vi": "Mục nhật ký", "en": "Diary entries"},
    "home_lots": {"vi": "Lô hàng", "en": "Lots"},
    "home_signin": {"vi": "Đăng nhập", "en": "Sign in"},
    "home_signin_text": {
        "vi": "Trên máy này, bấm một vai trò để vào trang của vai trò đó. Các mã dùng được "
        "ở /signin và trong tài liệu API (Authorize).",
        "en": "On this machine, press a role to open its pages. The tokens also work at "
        "/signin and in the API docs (Authorize).",
    },
    "home_signin_as": {"vi": "Vào với vai trò {role}", "en": "Sign in as {role}"},
    "home_signin_remote": {
        "vi": "Mã đăng nhập được in trong cửa sổ dòng lệnh đang chạy bản chạy thử.",
        "en": "The sign-in tokens are printed in the terminal where the demo runs.",
    },
    "home_cli": {"vi": "Báo cáo từ dòng lệnh", "en": "Reports from the command line"},
    "role_admin": {"vi": "Quản trị", "en": "Admin"},
    "role_farmer": {"vi": "Nông dân", "en": "Farmer"},
}

_ACTIVITIES: dict[str, dict[str, str]] = {
    "land_prep": {"vi": "Làm đất", "en": "Land preparation"},
    "seed": {"vi": "Gieo sạ", "en": "Sowing"},
    "fertilize": {"vi": "Bón phân", "en": "Fertilising"},
    "spray": {"vi": "Phun thuốc", "en": "Spraying"},
    "irrigate": {"vi": "Bơm nước vào ruộng", "en": "Irrigation / flooding"},
    "observe": {"vi": "Thăm đồng", "en": "Field inspection"},
    "harvest": {"vi": "Thu hoạch", "en": "Harvest"},
    "process": {"vi": "Xay xát / phối trộn", "en": "Milling / mixing"},
    "other": {"vi": "Khác", "en": "Other"},
    "purchase": {"vi": "Mua vật tư", "en": "Inputs bought"},
    "drain": {"vi": "Rút nước / phơi ruộng", "en": "Draining / drying"},
    "straw": {"vi": "Xử lý rơm rạ", "en": "Straw handling"},
    "sale": {"vi": "Bán sản phẩm", "en": "Sale"},
}

_STRINGS |= TRUST_STRINGS


# Crops as farmers record them (Vietnamese), in English; anything else is shown as written.
_CROPS: dict[str, str] = {
    "lúa": "rice",
    "gạo": "rice",
    "ngô": "maize",
    "bắp": "maize",
    "tôm": "shrimp",
    "rau": "vegetables",
    "đậu": "beans",
    "mía": "sugar cane",
    "dừa": "coconut",
    "khoai lang": "sweet potato",
    "khoai mì": "cassava",
    "sắn": "cassava",
    "cà phê": "coffee",
    "hồ tiêu": "black pepper",
    "xoài": "mango",
    "thanh long": "dragon fruit",
    "sầu riêng": "durian",
    "bưởi": "pomelo",
    "cam": "orange",
}


def crop_name(crop: str | None, lang: str) -> str:
    """A crop in ``lang``: Vietnamese as recorded, English where the crop is known.

    >>> crop_name("Lúa", "en"), crop_name("lúa", "vi"), crop_name("kê", "en")
    ('rice', 'lúa', 'kê')
    """
    if not crop or lang == "vi":
        return crop or ""
    return _CROPS.get(crop.strip().lower(), crop)


def pick_lang(value: str | None) -> str:
    """``vi`` unless ``en`` (or a tag starting with it, e.g. ``en-GB``) was asked for.

    >>> pick_lang("en-GB"), pick_lang(None), pick_lang("fr")
    ('en', 'vi', 'vi')
    """
    if value and value.lower()[:2] in LANGS:
        return value.lower()[:2]
    return DEFAULT_LANG


def negotiate(query: str | None, accept_language: str | None) -> str:
    """The page language: ``?lang=`` if given, else the first of ``vi``/``en`` that
    ``Accept-Language`` names (by weight), else Vietnamese.

    >>> negotiate("en", "vi"), negotiate(None, "en-US,en;q=0.9"), negotiate(None, None)
    ('en', 'en', 'vi')
    >>> negotiate(None, "fr;q=1, vi;q=0.8, en;q=0.5"), negotiate(None, "de")
    ('vi', 'vi')
    """
    if query:
        return pick_lang(query)
    ranked = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        try:
            weight = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            weight = 0.0
        if tag.lower()[:2] in LANGS and weight > 0:
            ranked.append((-weight, i, tag.lower()[:2]))
    return min(ranked)[2] if ranked else DEFAULT_LANG


def format_number(value: float | None, digits: int, lang: str) -> str:
    """``value`` with at most ``digits`` decimals, grouped the way ``lang`` writes numbers.

    >>> format_number(23290, 0, "vi"), format_number(23290.5, 2, "vi"), format_number(0.24, 2, "en")
    ('23.290', '23.290,5', '0.24')
    >>> format_number(1500.0, 2, "en"), format_number(None, 2, "vi")
    ('1,500', '–')
    """
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    if "." in text:  # trailing zeros of the decimals only, never of the integer part
        text = text.rstrip("0").rstrip(".")
    # Vietnamese groups thousands with '.' and writes decimals with ','.
    if lang == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def translator(lang: str) -> dict[str, Any]:
    """The template helpers for ``lang``: ``t``, ``activity``, ``verdict``, ``day``, ``number``."""

    def t(key: str, **kw: Any) -> str:
        text = _STRINGS.get(key, {}).get(lang) or key
        return text.format(**kw) if kw else text

    def activity(name: str | None) -> str:
        return _ACTIVITIES.get(name or "other", _ACTIVITIES["other"])[lang]

    def verdict(value: bool | None) -> str:
        return t({True: "phi_true", False: "phi_false"}.get(value, "phi_none"))

    def day(value: Any) -> str:
        if value is None:
            return t("unknown")
        # Vietnamese readers write day/month/year; English readers get the unambiguous ISO date.
        return value.strftime("%d/%m/%Y") if lang == "vi" else value.isoformat()

    def clock(value: str | None) -> str:
        # Times travel as RFC 3339 in UTC; people read them in Vietnam time.
        if not value:
            return ""
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(VN).strftime("%H:%M")

    def number(value: float | None, digits: int = 2) -> str:
        return format_number(value, digits, lang)

    def crop(name: str | None) -> str:
        return crop_name(name, lang)

    return {
        "t": t,
        "crop": crop,
        "clock": clock,
        "activity": activity,
        "verdict": verdict,
        "day": day,
        "number": number,
        "when": lambda value: local_time(value, lang),
        "lang": lang,
    }
