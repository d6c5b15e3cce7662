"""Words of the office's, the operators' and the cooperatives' pages: Vietnamese, English."""

from typing import Any

_STRINGS: dict[str, tuple[str, str]] = {
    "signin_title": ("Đăng nhập cho cán bộ", "Staff sign-in"),
    "signin_lead": (
        "Dán mã truy cập (API token) của bạn một lần. Trình duyệt này sẽ giữ nó trong "
        "cookie an toàn (HttpOnly) cho các trang của phòng nông nghiệp, đơn vị bay và HTX.",
        "Paste your API token once. This browser keeps it in a secure (HttpOnly) cookie "
        "for the office's, the drone operators' and the cooperatives' pages.",
    ),
    "token": ("Mã truy cập", "API token"),
    "signin": ("Đăng nhập", "Sign in"),
    "signout": ("Đăng xuất", "Sign out"),
    "bad_token": (
        "Mã không hợp lệ, đã thu hồi hoặc hết hạn; hoặc là mã của nông dân (nông dân dùng /app/).",
        "This token is unknown, revoked or expired, or it is a farmer's (farmers use /app/).",
    ),
    "signin_needed": ("Cần đăng nhập", "Sign-in needed"),
    "signin_needed_lead": (
        "Trang này dành cho cán bộ đã đăng nhập.",
        "This page is for signed-in staff.",
    ),
    "denied": ("Không có quyền", "Not allowed"),
    "office_title": ("Bảng điều khiển phòng nông nghiệp", "Agriculture office dashboard"),
    "operator_title": ("Ngày bay của đơn vị", "Operator's day"),
    "coop_title": ("Trang hợp tác xã", "Cooperative"),
    "period": ("Khoảng thời gian", "Period"),
    "from": ("Từ ngày", "From"),
    "to": ("Đến ngày", "To"),
    "product": ("Sản phẩm", "Product"),
    "show": ("Xem", "Show"),
    "by_week": ("Diện tích đã phun theo tuần", "Hectares treated per week"),
    "by_product": ("Diện tích theo sản phẩm", "Hectares per product"),
    "by_commune": ("Diện tích theo xã", "Hectares per commune"),
    "commune_map": ("Bản đồ theo xã", "Commune map"),
    "flagged": ("Lượt bay bị gắn cờ", "Flagged missions"),
    "no_flagged": ("Không có lượt bay nào bị gắn cờ.", "No flagged mission."),
    "downloads": ("Tải báo cáo", "Download reports"),
    "no_data": ("Chưa có số liệu.", "No data yet."),
    "drone": ("Máy bay", "Drone"),
    "missions": ("lượt bay", "missions"),
    "mission": ("Lượt bay", "Mission"),
    "time": ("Giờ (UTC+7)", "Time (UTC+7)"),
    "duration": ("Thời lượng", "Duration"),
    "min": ("phút", "min"),
    "treated": ("Đã phun", "Treated"),
    "amount": ("Lượng thuốc", "Product applied"),
    "tank_mix": ("Hỗn hợp phun", "Tank mix sprayed"),
    "product_amount_unknown": ("không rõ (thiếu tỉ lệ pha)", "unknown (no tank mix given)"),
    "flags": ("Cờ", "Flags"),
    "map": ("Bản đồ", "Map"),
    "map_svg": ("Bản đồ SVG", "Map (SVG)"),
    "map_png": ("Bản đồ PNG", "Map (PNG)"),
    "prev_day": ("← Ngày trước", "← Previous day"),
    "next_day": ("Ngày sau →", "Next day →"),
    "prev_page": ("← Trang trước", "← Previous page"),
    "next_page": ("Trang sau →", "Next page →"),
    "no_missions": ("Không có lượt bay nào trong ngày.", "No mission that day."),
    "members": ("Thành viên", "Members"),
    "fields": ("Ruộng", "Fields"),
    "season": ("Mùa vụ", "Season"),
    "no_season": ("chưa có vụ", "no season"),
    "lots": ("Lô hàng", "Lots"),
    "pending_phi": ("Đang trong thời gian cách ly", "Pre-harvest interval not yet over"),
    "no_pending_phi": ("Không ruộng nào đang cách ly.", "No field within a PHI today."),
    "safe_on": ("Được thu hoạch từ", "Harvest from"),
    "applied_on": ("Ngày phun", "Applied on"),
    "signin_link": ("Tạo liên kết đăng nhập", "Issue a sign-in link"),
    "link_made": ("Liên kết đăng nhập (dùng một lần)", "Sign-in link (single use)"),
    "expires": ("Hết hạn", "Expires"),
    "back": ("Quay lại", "Back"),
    "today": ("Hôm nay", "Today"),
    "ha": ("ha", "ha"),
    "flag_dose_above_max": ("Quá liều", "Overdose"),
    "flag_overspray": ("Phun ra ngoài", "Overspray"),
    "flag_nospray_zone": ("Vùng cấm phun", "No-spray zone"),
    "flag_no_end_event": ("Không có tín hiệu kết thúc", "No end event"),
    "flag_unknown_product": ("Sản phẩm không rõ", "Unknown product"),
    "flag_product_dose_unknown": ("Không rõ liều (thiếu tỉ lệ pha)", "Dose unknown (no tank mix)"),
    "flag_no_fields": ("Không trúng ruộng nào", "No field"),
    "flag_gaps": ("Mất tín hiệu", "Gaps"),
    "flag_reported_area_mismatch": ("Diện tích báo cáo lệch", "Reported area differs"),
    "flag_reported_amount_mismatch": ("Lượng báo cáo lệch", "Reported amount differs"),
    "flag_measure_failed": ("Không đo được", "Measure failed"),
    "mrv_title": ("Hồ sơ MRV lúa phát thải thấp", "Low-emission rice MRV pack"),
    "mrv_lead": (
        "Ước tính mê-tan theo IPCC 2019 (Bậc 1) từ nhật ký ruộng, kèm các bản ghi làm căn cứ "
        "(mã, số thứ tự và mã băm trong nhật ký minh bạch) để kiểm tra.",
        "Methane estimated by IPCC 2019 Tier 1 from the field diaries, with the records each "
        "figure rests on (ids, chain places and hashes in the transparency log) to check.",
    ),
    "commune": ("Xã", "Commune"),
    "province": ("Toàn tỉnh", "Province"),
    "plots": ("Thửa", "Plots"),
    "plots_estimated": ("Thửa có ước tính", "Plots estimated"),
    "water_regime": ("Chế độ nước", "Water regime"),
    "regime_continuously_flooded": ("Ngập liên tục", "Continuously flooded"),
    "regime_single_drainage": ("Rút nước một lần", "Single drainage"),
    "regime_multiple_drainage": ("Ướt khô xen kẽ (rút nhiều lần)", "AWD (multiple drainage)"),
    "pre_season": ("Trước vụ", "Pre-season"),
    "cultivation_days": ("Số ngày canh tác", "Cultivation days"),
    "straw_before": ("Rơm rạ trước gieo", "Straw before sowing"),
    "ch4": ("Mê-tan (kg CH4/ha)", "Methane (kg CH4/ha)"),
    "baseline": ("Đường cơ sở (kg CH4/ha)", "Baseline (kg CH4/ha)"),
    "reduction": ("Giảm (kg CH4/ha)", "Reduction (kg CH4/ha)"),
    "co2e": ("Giảm (tấn CO2e/ha)", "Reduction (t CO2e/ha)"),
    "reduction_total": ("Giảm (kg CH4)", "Reduction (kg CH4)"),
    "co2e_total": ("Giảm (tấn CO2e)", "Reduction (t CO2e)"),
    "unknown_why": ("Chưa tính được", "Cannot be estimated"),
    "factors": ("Hệ số", "Factors"),
    "targets": ("Chỉ tiêu của Đề án", "The programme's targets"),
    "target_seed": ("Lượng giống ≤ 100 kg/ha", "Seed ≤ 100 kg/ha"),
    "target_n": ("Giảm ≥ 30 % đạm so với mức tham chiếu", "Nitrogen ≥ 30 % under the reference"),
    "target_sprays": ("Giảm ≥ 30 % số lần phun thuốc", "Sprays ≥ 30 % under the reference"),
    "target_straw": ("Thu gom toàn bộ rơm rạ", "All straw collected"),
    "target_water": ("Tưới ướt khô xen kẽ", "Alternate wetting and drying"),
    "pass": ("Đạt", "Pass"),
    "fail": ("Không đạt", "Fail"),
    "unknown": ("Chưa rõ", "Unknown"),
    "evidence": ("Bản ghi làm căn cứ", "Records it rests on"),
    "for": ("Cho", "For"),
    "entry": ("Bản ghi", "Entry"),
    "log_index": ("Vị trí nhật ký", "Log index"),
    "print": ("In", "Print"),
    "by_hand": ("thủ công", "by hand"),
    "by_drone": ("bằng máy bay", "by drone"),
}


def staff_translator(lang: str) -> dict[str, Any]:
    """``t(key)`` and ``flag(code)`` in ``lang`` for the staff pages' templates."""
    i = 1 if lang == "en" else 0

    def t(key: str) -> str:
        words = _STRINGS.get(key)
        return words[i] if words else key

    def flag(code: str) -> str:
        words = _STRINGS.get(f"flag_{code}")
        return words[i] if words else code.replace("_", " ")

    return {"t": t, "flag": flag, "lang": lang}
