"""The word catalogue: complete in both languages, holding every id the code shows, and
numbers, days and times written by Babel's rules in Vietnam time."""

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.numbers import get_decimal_symbol, get_group_symbol

from traceability import words

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "traceability" / "api" / "templates"
# Python says words.gettext(lang, "id"): the id is the second argument.
KEYWORDS = DEFAULT_KEYWORDS | {"gettext": (2,)}


def _catalogue(lang: str):
    with (words.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def _used_ids() -> dict[str, str]:
    """Every catalogue id the code names, found as ``./run words`` finds them."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f, "babel.cfg")
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found[msgid] = f"{filename}:{lineno}"
    return found


@pytest.mark.parametrize("lang", words.LANGS)
def test_every_message_has_words_in_each_language(lang):
    catalogue = _catalogue(lang)
    missing = [m.id for m in catalogue if m.id and (not m.string or m.fuzzy)]
    assert missing == [], f"messages without a {lang} translation (or fuzzy)"


def test_both_catalogues_hold_the_same_ids():
    vi = {m.id for m in _catalogue("vi") if m.id}
    en = {m.id for m in _catalogue("en") if m.id}
    assert vi - en == set() and en - vi == set()


def test_every_id_the_code_shows_is_in_the_catalogue():
    used = _used_ids()
    # The extraction really reads Python, templates and ids built at run time.
    assert {"harvest_date", "app.save", "staff.by_week", "activity.spray", "map.swath"} <= set(used)
    held = {m.id for m in _catalogue("vi")}
    assert {msgid: where for msgid, where in used.items() if msgid not in held} == {}


def test_placeholders_agree_between_languages():
    names = re.compile(r"{(\w+)}")
    vi = {m.id: set(names.findall(m.string)) for m in _catalogue("vi") if m.id}
    en = {m.id: set(names.findall(m.string)) for m in _catalogue("en") if m.id}
    assert {k: (vi[k], en[k]) for k in vi if vi[k] != en.get(k)} == {}


# Text a template may show as it is: units, formats and names that are the same in both
# languages. Anything else a person reads goes through _() and the catalogue.
SAME_IN_BOTH = {
    "ha", "kg", "L", "m", "d", "N", "GS1", "GTIN", "CSV", "Excel", "JSON", "SVG", "PNG",
    "EPCIS", "API", "OpenAPI", "QR", "VietGAP", "agritrace", "Digital", "Link", "UTC",
    # IPCC's symbols for methane and its factors.
    "CH₄", "CO₂e", "EFc", "SFw", "SFp", "SFo", "GWP",
}  # fmt: skip
# Jinja, scripts, styles and code samples are not read as words; nor are entities.
_CODE = re.compile(r"{#.*?#}|{%.*?%}|{{.*?}}|<(script|style|code)\b.*?</\1>|&#?\w+;", re.S | re.I)
_ATTRS = re.compile(r'\b(?:title|alt|placeholder|aria-label)="([^"{]*)"')
# Tags, and attributes a block writes into its parent's tag.
_TAG = re.compile(r"<[^>]*>|[\w:-]+=\"[^\"]*\"")
_WORD = re.compile(r"[^\W\d_]{2,}")


def bare_words(source: str) -> list[str]:
    """The words of a template a person would read that are not from the catalogue.

    >>> bare_words('<p>{{ _("save") }} 3 ha</p><b title="Save">Lưu</b>{# a note #}')
    ['Save', 'Lưu']
    """
    text = _CODE.sub(" ", source)
    found = _ATTRS.findall(text)
    text = _TAG.sub(" ", text)
    return [w for chunk in [*found, text] for w in _WORD.findall(chunk) if w not in SAME_IN_BOTH]


@pytest.mark.parametrize(
    "path", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_templates_show_no_words_outside_the_catalogue(path):
    assert bare_words(path.read_text(encoding="utf-8")) == []


def test_the_bare_word_check_sees_a_bare_word():
    assert bare_words('<h1>{{ _("title") }}</h1><p>Nhật ký</p>') == ["Nhật", "ký"]


# ---------------------------------------------------------------- numbers, days, times


def test_vietnamese_numbers_follow_cldr():
    # CLDR's Vietnamese: comma decimals, dot thousands (the staff pages once wrote 3.30).
    assert (get_decimal_symbol("vi_VN"), get_group_symbol("vi_VN")) == (",", ".")
    assert words.number(3.3, 2, "vi") == "3,3"
    assert words.number(1234567.891, 2, "vi") == "1.234.567,89"
    assert words.number(1234567.891, 2, "en") == "1,234,567.89"
    assert words.number(0.005, 2, "en") in ("0", "0.01")  # half-even or half-up, never 0.00


def test_times_are_shown_in_vietnam_time():
    # 17:30 UTC on 31 December is 00:30 on 1 January in Vietnam (UTC+7).
    at = datetime(2026, 12, 31, 17, 30, tzinfo=UTC)
    assert words.local_time(at, "vi") == "01/01/2027 00:30"
    assert words.local_time(at.isoformat(), "en") == "2027-01-01 00:30"
    assert words.clock("2026-12-31T17:30:00Z") == "00:30"
    assert words.day(date(2027, 1, 1), "vi") == "01/01/2027"


def test_catalogues_compile_when_missing(tmp_path, monkeypatch):
    locale = tmp_path / "locale"
    for lang in words.LANGS:
        target = locale / lang / "LC_MESSAGES"
        target.mkdir(parents=True)
        source = words.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
        (target / "messages.po").write_bytes(source.read_bytes())
    monkeypatch.setattr(words, "LOCALE_DIR", locale)
    written = words.compile_catalogues()
    assert sorted(p.parts[-3] for p in written) == ["en", "vi"]
    assert words.compile_catalogues() == []  # up to date: nothing to do
