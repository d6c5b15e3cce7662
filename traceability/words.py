"""Every word a person reads, and every number, day and time, in Vietnamese and English.

The words live in one gettext catalogue (domain ``messages``) that a translator edits
without touching Python: ``traceability/locale/{vi,en}/LC_MESSAGES/messages.po``. The
message ids are short keys (``harvest_date``, ``app.save``, ``staff.flag_overspray``,
``activity.spray``, ``map.swath``) rather than English source sentences: the pages were
written against those keys, English is a translation like Vietnamese, and a key keeps
its translations when the English wording changes. Placeholders are ``{name}``
(``str.format``). ``./run words`` extracts the ids in use (Python, templates), updates
both catalogues and compiles them; the compiled ``.mo`` files are built here on first use
when they are missing or older than their ``.po``, so a fresh clone needs no step.

Numbers and dates follow Babel's ``vi_VN`` and ``en`` rules (Vietnamese: comma
decimals, dot thousands); times are shown in Vietnam time (:mod:`traceability.timezone`).
"""

import io
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.core import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, parse_pattern
from babel.support import Translations

from traceability.timezone import VN_TZ

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: The Babel locale of each page language: its number and date rules.
LOCALES = {"vi": "vi_VN", "en": "en"}
# Parsed once: Babel parses a locale named by a string again at every call, which cost a
# trace page more than its numbers and dates themselves.
_LOCALE = {lang: Locale.parse(name) for lang, name in LOCALES.items()}
_VI_VN = _LOCALE["vi"]
# A page repeats the same few numbers, days and times: each is formatted once per worker.
_FORMATTED_CACHE = 8192
#: What a missing number or time shows.
MISSING = "–"


def N_(msgid: str) -> str:
    """Mark ``msgid`` for extraction where it is used later, by a key built at run time."""
    return msgid


# ---------------------------------------------------------------- the catalogue


def compile_catalogues(force: bool = False) -> list[Path]:
    """Compile each ``messages.po`` whose ``.mo`` is missing or older; the ``.mo`` written."""
    written = []
    for po in sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        if force or not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as f:
                catalog = read_po(f, locale=po.parts[-3])
            tmp = mo.with_suffix(".mo.tmp")
            with tmp.open("wb") as f:
                write_mo(f, catalog)
            tmp.replace(mo)  # never half a file for another worker to read
            written.append(mo)
    return written


def _compiled_in_memory(lang: str) -> Translations:
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@lru_cache(maxsize=len(LANGS))
def translations(lang: str) -> Translations:
    """The catalogue of ``lang``, compiled first if its ``.mo`` is missing or stale."""
    try:
        compile_catalogues()
    except OSError:
        # An installation the server may not write to: the catalogue compiled in memory.
        return _compiled_in_memory(lang)
    loaded = Translations.load(str(LOCALE_DIR), [lang], domain=DOMAIN)
    if not isinstance(loaded, Translations):
        raise FileNotFoundError(f"no '{DOMAIN}' catalogue for '{lang}' under {LOCALE_DIR}")
    return loaded


def gettext(lang: str, msgid: str, **params: Any) -> str:
    """The words of ``msgid`` in ``lang``, with ``{name}`` placeholders filled from ``params``.

    An id the catalogue does not hold comes back as itself (tests keep that from happening).

    >>> gettext("vi", "harvest_date"), gettext("en", "harvest_date")
    ('Ngày thu hoạch', 'Harvest date')
    >>> gettext("en", "waited", n=3, m=14)
    '3 of 14 days'
    """
    text = translations(lang).gettext(msgid)
    return text.format(**params) if params else text


def has_words(lang: str, msgid: str) -> bool:
    """Whether the catalogue of ``lang`` holds ``msgid``."""
    return msgid in translations(lang)._catalog


# ---------------------------------------------------------------- the language


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


# ---------------------------------------------------------------- numbers, days, times


def number(value: float | None, digits: int, lang: str) -> str:
    """``value`` with at most ``digits`` decimals, grouped as ``lang`` writes numbers.

    >>> number(23290, 0, "vi"), number(23290.5, 2, "vi"), number(0.24, 2, "en")
    ('23.290', '23.290,5', '0.24')
    >>> number(1500.0, 2, "en"), number(None, 2, "vi")
    ('1,500', '–')
    """
    if value is None:
        return MISSING
    return _number(value, digits, lang)


@lru_cache(maxsize=_FORMATTED_CACHE)
def _number(value: float, digits: int, lang: str) -> str:
    # format_decimal() with its pattern and locale parsed once: half the cost per number.
    return _decimal_pattern(digits).apply(value, _LOCALE[lang])


@lru_cache(maxsize=16)
def _decimal_pattern(digits: int) -> NumberPattern:
    return parse_pattern("#,##0" + ("." + "#" * digits if digits > 0 else ""))


def day(value: date | None, lang: str) -> str | None:
    """A day as ``lang`` reads it: day/month/year in Vietnamese, the ISO date in English.

    >>> day(date(2026, 4, 2), "vi"), day(date(2026, 4, 2), "en"), day(None, "vi")
    ('02/04/2026', '2026-04-02', None)
    """
    if value is None:
        return None
    return _day(value, lang)


@lru_cache(maxsize=_FORMATTED_CACHE)
def _day(value: date, lang: str) -> str:
    # Vietnamese readers write day/month/year; English readers get the unambiguous ISO date.
    return format_date(value, "dd/MM/yyyy" if lang == "vi" else "yyyy-MM-dd", locale=_LOCALE[lang])


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def local_time(value: Any, lang: str) -> str:
    """An RFC 3339 time (or aware datetime) in Vietnam time, as ``lang`` writes it.

    >>> local_time("2026-04-12T01:30:00Z", "vi"), local_time("2026-04-12T01:30:00Z", "en")
    ('12/04/2026 08:30', '2026-04-12 08:30')
    """
    if not value:
        return MISSING
    return _local_time(value, lang)


@lru_cache(maxsize=_FORMATTED_CACHE)
def _local_time(value: Any, lang: str) -> str:
    # Equal keys are the same instant (a string, or an aware datetime): the same words.
    pattern = "dd/MM/yyyy HH:mm" if lang == "vi" else "yyyy-MM-dd HH:mm"
    return format_datetime(_aware(value), pattern, tzinfo=VN_TZ, locale=_LOCALE[lang])


def clock(value: Any) -> str:
    """The Vietnam time of day (``HH:mm``) of an RFC 3339 time or aware datetime.

    >>> clock("2026-04-12T01:30:00Z"), clock(None)
    ('08:30', '')
    """
    if not value:
        return ""
    return _clock(value)


@lru_cache(maxsize=_FORMATTED_CACHE)
def _clock(value: Any) -> str:
    return format_datetime(_aware(value), "HH:mm", tzinfo=VN_TZ, locale=_VI_VN)


#: Crops as farmers record them: their English is in the catalogue (``crop.lúa``: rice).
CROPS = (
    N_("crop.lúa"),
    N_("crop.gạo"),
    N_("crop.ngô"),
    N_("crop.bắp"),
    N_("crop.tôm"),
    N_("crop.rau"),
    N_("crop.đậu"),
    N_("crop.mía"),
    N_("crop.dừa"),
    N_("crop.khoai lang"),
    N_("crop.khoai mì"),
    N_("crop.sắn"),
    N_("crop.cà phê"),
    N_("crop.hồ tiêu"),
    N_("crop.xoài"),
    N_("crop.thanh long"),
    N_("crop.sầu riêng"),
    N_("crop.bưởi"),
    N_("crop.cam"),
)


def crop_name(crop: str | None, lang: str) -> str:
    """A crop in ``lang``: Vietnamese as recorded, English where the crop is known.

    >>> crop_name("Lúa", "en"), crop_name("lúa", "vi"), crop_name("kê", "en")
    ('rice', 'lúa', 'kê')
    """
    if not crop or lang == "vi":
        return crop or ""
    msgid = "crop." + crop.strip().lower()
    return gettext(lang, msgid) if has_words(lang, msgid) else crop
