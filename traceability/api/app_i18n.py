"""Words of the farmers' app in Vietnamese (the default) and English."""

from typing import Any

from traceability.api.i18n import translator

_STRINGS: dict[str, dict[str, str]] = {
    "app_name": {"vi": "Nhật ký đồng ruộng", "en": "Field diary"},
    "nav_home": {"vi": "Ruộng", "en": "Fields"},
    "nav_new": {"vi": "Ghi", "en": "Log"},
    "nav_diary": {"vi": "Nhật ký", "en": "Diary"},
    "nav_lots": {"vi": "Lô hàng", "en": "Lots"},
    "my_fields": {"vi": "Ruộng của tôi", "en": "My fields"},
    "no_fields": {
        "vi": "Chưa có thửa ruộng nào. Hợp tác xã sẽ thêm ruộng cho bạn.",
        "en": "No fields yet. Your cooperative will add them.",
    },
    "season_now": {"vi": "Vụ hiện tại", "en": "Current season"},
    "no_season": {"vi": "Chưa có vụ", "en": "No season"},
    "sown": {"vi": "Sạ", "en": "Sown"},
    "planned_harvest": {"vi": "Dự kiến thu hoạch", "en": "Harvest planned"},
    "plan_harvest": {"vi": "Ngày dự kiến thu hoạch", "en": "Planned harvest day"},
    "log_entry": {"vi": "Ghi nhật ký", "en": "Log an entry"},
    "log_here": {"vi": "Ghi cho ruộng này", "en": "Log for this field"},
    "new_title": {"vi": "Ghi nhật ký", "en": "Log an entry"},
    "correct_title": {"vi": "Sửa mục nhật ký", "en": "Correct an entry"},
    "correcting": {
        "vi": "Mục mới sẽ thay mục cũ; mục cũ vẫn được lưu lại.",
        "en": "The new entry replaces the old one; the old one is kept on record.",
    },
    "field": {"vi": "Thửa ruộng", "en": "Field"},
    "activity": {"vi": "Công việc", "en": "Work done"},
    "product": {"vi": "Vật tư (thuốc, phân, giống)", "en": "Product (pesticide, fertiliser, seed)"},
    "search_product": {"vi": "Tìm theo tên", "en": "Search by name"},
    "no_product": {"vi": "— Không dùng vật tư —", "en": "— No product —"},
    "quantity": {"vi": "Số lượng", "en": "Quantity"},
    "unit": {"vi": "Đơn vị", "en": "Unit"},
    "area": {"vi": "Diện tích làm (ha)", "en": "Area treated (ha)"},
    "when": {"vi": "Ngày giờ", "en": "Date and time"},
    "note": {"vi": "Ghi chú", "en": "Note"},
    "counterparty": {"vi": "Nơi mua / Người mua", "en": "Supplier / Buyer"},
    "applied_by": {"vi": "Người phun/bón", "en": "Who applied"},
    "straw_handling": {"vi": "Rơm rạ", "en": "The straw"},
    "straw_removed": {"vi": "Thu gom ra khỏi ruộng", "en": "Removed from the field"},
    "straw_incorporated": {"vi": "Vùi vào đất", "en": "Worked into the soil"},
    "straw_composted": {"vi": "Ủ phân / trồng nấm", "en": "Composted / mushrooms"},
    "straw_burnt": {"vi": "Đốt", "en": "Burnt"},
    "straw_t_per_ha": {"vi": "Lượng rơm (tấn/ha)", "en": "Straw (t/ha)"},
    "low_emission": {"vi": "Lúa phát thải thấp", "en": "Low-emission rice"},
    "le_water": {"vi": "Chế độ nước", "en": "Water"},
    "le_regime_continuously_flooded": {"vi": "Ngập liên tục", "en": "Continuously flooded"},
    "le_regime_single_drainage": {"vi": "Rút nước một lần", "en": "Drained once"},
    "le_regime_multiple_drainage": {"vi": "Ướt khô xen kẽ", "en": "Alternate wetting and drying"},
    "le_ch4": {"vi": "Mê-tan ước tính", "en": "Estimated methane"},
    "le_reduction": {"vi": "Giảm so với ngập liên tục", "en": "Less than flooded all season"},
    "le_unknown": {"vi": "Chưa tính được", "en": "Not yet known"},
    "le_seed": {"vi": "Giống ≤ 100 kg/ha", "en": "Seed ≤ 100 kg/ha"},
    "le_n": {"vi": "Giảm 30 % phân đạm", "en": "30 % less nitrogen"},
    "le_sprays": {"vi": "Giảm 30 % lần phun", "en": "30 % fewer sprays"},
    "le_straw": {"vi": "Thu gom rơm rạ", "en": "Straw collected"},
    "le_awd": {"vi": "Tưới ướt khô xen kẽ", "en": "Alternate wetting and drying"},
    "le_pass": {"vi": "Đạt", "en": "Met"},
    "le_fail": {"vi": "Chưa đạt", "en": "Not met"},
    "le_unknown_v": {"vi": "Chưa rõ", "en": "Unknown"},
    "save": {"vi": "Lưu", "en": "Save"},
    "save_anyway": {"vi": "Vẫn lưu", "en": "Save anyway"},
    "saved": {"vi": "Đã lưu", "en": "Saved"},
    "diary": {"vi": "Nhật ký của tôi", "en": "My diary"},
    "empty_diary": {"vi": "Chưa ghi gì.", "en": "Nothing logged yet."},
    "by_drone": {"vi": "Máy bay phun", "en": "Drone"},
    "coverage": {"vi": "Phủ", "en": "Coverage"},
    "dose": {"vi": "Liều", "en": "Dose"},
    "correct": {"vi": "Sửa", "en": "Correct"},
    "withdraw": {"vi": "Rút lại", "en": "Withdraw"},
    "correction_of": {"vi": "sửa mục", "en": "corrects entry"},
    "waiting": {"vi": "Đang chờ gửi", "en": "Waiting to be sent"},
    "waiting_hint": {
        "vi": "Đã lưu trên điện thoại; sẽ tự gửi khi có sóng.",
        "en": "Kept on this phone; sent by itself when there is signal.",
    },
    "failed": {"vi": "Không gửi được", "en": "Could not be sent"},
    "discard": {"vi": "Bỏ", "en": "Discard"},
    "offline": {"vi": "Không có mạng", "en": "Offline"},
    "lots": {"vi": "Lô hàng của tôi", "en": "My lots"},
    "no_lots": {"vi": "Chưa có lô hàng.", "en": "No lots yet."},
    "verdict_true": {"vi": "Đạt thời gian cách ly", "en": "PHI respected"},
    "verdict_false": {"vi": "Không đạt thời gian cách ly", "en": "PHI not respected"},
    "verdict_none": {"vi": "Chưa đánh giá được", "en": "PHI cannot be judged"},
    "open_trace": {"vi": "Xem trang truy xuất", "en": "Open the trace page"},
    "harvested": {"vi": "Thu hoạch", "en": "Harvested"},
    "signin_title": {"vi": "Đăng nhập", "en": "Sign in"},
    "signin_text": {
        "vi": "Bấm nút để đăng nhập điện thoại này vào nhật ký của bạn.",
        "en": "Tap the button to sign this phone in to your diary.",
    },
    "signin_button": {"vi": "Đăng nhập", "en": "Sign in"},
    "signin_bad": {
        "vi": "Liên kết này đã được dùng hoặc đã hết hạn. Xin hợp tác xã gửi liên kết mới.",
        "en": "This link was already used or has expired. Ask your cooperative for a new one.",
    },
    "signed_in": {"vi": "Đã đăng nhập", "en": "Signed in"},
    "continue": {"vi": "Tiếp tục", "en": "Continue"},
    "signin_needed": {
        "vi": "Hãy mở liên kết đăng nhập (hoặc quét mã QR) mà hợp tác xã gửi cho bạn.",
        "en": "Open the sign-in link (or scan the QR code) your cooperative gave you.",
    },
    "sign_out": {"vi": "Đăng xuất", "en": "Sign out"},
    "not_yours": {
        "vi": "Không tìm thấy thửa ruộng này trong ruộng của bạn.",
        "en": "This field is not one of your fields.",
    },
    "field_diary": {"vi": "Nhật ký ruộng này", "en": "This field's diary"},
    "w_dose_above_max": {
        "vi": "Liều {dose} {unit}/ha vượt mức tối đa trên nhãn ({max} {unit}/ha).",
        "en": "Dose {dose} {unit}/ha is above the label maximum ({max} {unit}/ha).",
    },
    "w_phi_after_planned_harvest": {
        "vi": "Thuốc cần cách ly {phi_days} ngày: chỉ an toàn từ {safe_from}, "
        "nhưng dự kiến thu hoạch {planned_harvest_on}.",
        "en": "This pesticide needs {phi_days} days before harvest: safe only from "
        "{safe_from}, but harvest is planned for {planned_harvest_on}.",
    },
    "w_banned": {
        "vi": "Thuốc này bị cấm sử dụng ở Việt Nam.",
        "en": "This product is banned in Vietnam.",
    },
    "w_not_registered_for_crop": {
        "vi": "Thuốc này không được đăng ký cho cây {crop}.",
        "en": "This product is not registered for {crop}.",
    },
    "w_registration_unknown": {
        "vi": "Không rõ thuốc này có trong danh mục được phép sử dụng không.",
        "en": "This product is not known to be on the permitted list.",
    },
    "w_changes_harvested_lot": {
        "vi": "Lô {lot_code} đã thu hoạch ngày {harvested_on}: ghi mục này sẽ thay đổi "
        "kết quả thời gian cách ly của lô.",
        "en": "Lot {lot_code} was harvested on {harvested_on}: this entry would change "
        "its pre-harvest interval verdict.",
    },
    "warning": {"vi": "Cảnh báo", "en": "Warning"},
}

# The strings app.js needs, handed to it in the page (offline it has no other source).
JS_KEYS = (
    "waiting",
    "waiting_hint",
    "failed",
    "discard",
    "offline",
    "saved",
    "save",
    "save_anyway",
    "w_dose_above_max",
    "w_phi_after_planned_harvest",
    "w_banned",
    "w_not_registered_for_crop",
    "w_registration_unknown",
    "w_changes_harvested_lot",
)


def app_translator(lang: str) -> dict[str, Any]:
    """The trace pages' helpers for ``lang``, with ``t`` knowing the app's words too."""
    helpers = translator(lang)
    base_t = helpers["t"]

    def t(key: str, **kw: Any) -> str:
        text = _STRINGS.get(key, {}).get(lang)
        if text is None:
            return base_t(key, **kw)
        return text.format(**kw) if kw else text

    helpers["t"] = t
    helpers["js_strings"] = {k: _STRINGS[k][lang] for k in JS_KEYS}
    return helpers
