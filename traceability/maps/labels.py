"""The words on the maps: catalogue ids ``map.*``, in the map's language."""

from traceability.words import N_, gettext

#: Each word a map draws, by the name the drawing code uses.
MAP_WORDS = {
    "fields": N_("map.fields"),
    "swath": N_("map.swath"),
    "overlap": N_("map.overlap"),
    "overspray": N_("map.overspray"),
    "zones": N_("map.zones"),
    "zone_spray": N_("map.zone_spray"),
    "mission": N_("map.mission"),
    "treated": N_("map.treated"),
    "season_map": N_("map.season_map"),
    "hand": N_("map.hand"),
    "no_hand": N_("map.no_hand"),
    "drone_missions": N_("map.drone_missions"),
    "communes": N_("map.communes"),
    "ha": N_("map.ha"),
    "all_products": N_("map.all_products"),
    "all_days": N_("map.all_days"),
    "no_data": N_("map.no_data"),
}


def labels(lang: str) -> dict[str, str]:
    """The map's words in ``lang`` (Vietnamese unless it is ``en``)."""
    lang = "en" if lang == "en" else "vi"
    return {name: gettext(lang, msgid) for name, msgid in MAP_WORDS.items()}
