"""Reading the maps' SVG back: layers, features and their areas in metres."""

import functools
import re
import xml.etree.ElementTree as ET

from shapely.geometry import Polygon

NS = {"svg": "http://www.w3.org/2000/svg"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def layer(root: ET.Element, layer_id: str) -> ET.Element:
    found = root.find(f".//svg:g[@id='{layer_id}']", NS)
    assert found is not None, f"no layer {layer_id!r}"
    return found


def features(root: ET.Element, layer_id: str) -> list[ET.Element]:
    return [e for e in layer(root, layer_id) if e.get("class") == "feature"]


def path_area_px(d: str) -> float:
    """The area a path covers under the even-odd rule, in px², from its rings."""
    rings = []
    for sub in re.findall(r"M([^MZ]+)Z", d):
        pts = [tuple(map(float, p.split(","))) for p in re.split(r"\s*L\s*|\s+", sub.strip()) if p]
        rings.append(Polygon(pts).buffer(0))
    if not rings:
        return 0.0
    return functools.reduce(lambda a, b: a.symmetric_difference(b), rings).area


def layer_area_m2(root: ET.Element, layer_id: str) -> float:
    """The area of a layer's features in square metres (the root says metres per px)."""
    mpp = float(root.get("data-metres-per-px"))
    return sum(path_area_px(f.get("d")) for f in features(root, layer_id)) * mpp * mpp


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_SIGNATURE
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
