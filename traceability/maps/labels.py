"""The words on the maps, Vietnamese first and English with ``lang="en"``."""

LABELS = {
    "vi": {
        "fields": "Ruộng",
        "swath": "Vùng phun",
        "overlap": "Phun chồng (hai lần)",
        "overspray": "Phun ra ngoài ruộng",
        "zones": "Vùng cấm phun (kể cả vùng đệm)",
        "zone_spray": "Phun trong vùng cấm",
        "mission": "Bản đồ phun thực tế",
        "treated": "đã phun",
        "season_map": "Bản đồ vụ của ruộng",
        "hand": "Bón/phun tay",
        "no_hand": "Không có lần bón/phun tay",
        "drone_missions": "Lượt bay",
        "communes": "Diện tích đã phun theo xã",
        "ha": "ha",
        "all_products": "mọi sản phẩm",
        "all_days": "mọi ngày",
        "no_data": "Chưa có số liệu",
    },
    "en": {
        "fields": "Fields",
        "swath": "Sprayed swath",
        "overlap": "Overlap (sprayed twice)",
        "overspray": "Overspray (outside fields)",
        "zones": "No-spray zones (with buffer)",
        "zone_spray": "Spray inside no-spray zones",
        "mission": "As-applied map",
        "treated": "treated",
        "season_map": "Field season map",
        "hand": "Hand applications",
        "no_hand": "No hand application",
        "drone_missions": "Drone missions",
        "communes": "Hectares treated by commune",
        "ha": "ha",
        "all_products": "all products",
        "all_days": "all days",
        "no_data": "No data yet",
    },
}


def labels(lang: str) -> dict[str, str]:
    """The labels in ``lang`` (Vietnamese unless it is ``en``)."""
    return LABELS["en" if lang == "en" else "vi"]
