"""CPU time of reading a scanned GS1 Digital Link: the resolver's parser against biip's.

    .venv/bin/python bench/resolver_parse.py [--rounds 5] [--n 20000]

Every scan of a lot's QR code is read by ``resolver.parse_uri`` before the one query that
finds the lot. This times it on four URIs a scanner sends (a lot; a lot and a bag's
serial; a serialised item; a lot with an expiry date and a ``linkType``) against, in
the same run, the ceiling — what any reader must do at least: split the URI, its path
into segments and its query into pairs, and percent-decode them, checking nothing — and
``biip``'s ``GS1DigitalLinkURI.parse``, an independent parser that checks what the
resolver checks (path grammar, formats, dates, check digits). Rounds alternate the three
so that a busy machine slows them alike; the report gives microseconds of CPU per URI,
each round's figure, and the medians' ratios.
"""

import argparse
import statistics
import time
from urllib.parse import parse_qsl, unquote, urlsplit

from biip.gs1_digital_link_uris import GS1DigitalLinkURI

from traceability import resolver

URIS = [
    "https://trace.example.vn/01/08934567890120/10/BL-2026-07",
    "https://trace.example.vn/01/08934567890120/10/BL-2026-07/21/BAG-0042",
    "https://trace.example.vn/01/08934567890120/21/BAG-0042",
    "https://trace.example.vn/01/08934567890120/10/BL-2026-07?17=261231&linkType=gs1:epcis",
]


def ours(uri: str) -> None:
    """What the resolver does with a request: split, then parse path and query."""
    parts = urlsplit(uri)
    resolver.parse_uri(parts.path, parse_qsl(parts.query))


def ceiling(uri: str) -> None:
    """Splitting and decoding alone, nothing checked."""
    parts = urlsplit(uri)
    [unquote(segment) for segment in parts.path.split("/")]
    parse_qsl(parts.query)


def theirs(uri: str) -> None:
    """biip's reading of the same URI."""
    GS1DigitalLinkURI.parse(uri)


def _round(parse, n: int) -> float:
    start = time.process_time()
    for i in range(n):
        parse(URIS[i % len(URIS)])
    return (time.process_time() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=20_000, help="URIs parsed per round")
    args = parser.parse_args()
    for uri in URIS:  # both read every URI the same way before anything is timed
        ours(uri)
        theirs(uri)
    runs = {"ceiling (split only)": ceiling, "resolver.parse_uri": ours, "biip": theirs}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, parse in runs.items():
            times[name].append(_round(parse, args.n))
    medians = {name: statistics.median(rounds) for name, rounds in times.items()}
    for name, rounds in times.items():
        each = ", ".join(f"{t:.1f}" for t in rounds)
        print(f"{name:21} median {medians[name]:6.1f} us CPU per URI ({each})")
    mine = medians["resolver.parse_uri"]
    print(f"resolver / ceiling: {mine / medians['ceiling (split only)']:.2f}; "
          f"resolver / biip: {mine / medians['biip']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
