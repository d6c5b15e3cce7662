"""SVG maps rendered to PNG with cairosvg (for chat apps and printouts that take no SVG)."""

import cairosvg


def svg_to_png(svg: str, *, scale: float = 2.0) -> bytes:
    """``svg`` as PNG bytes, ``scale`` times its pixel size (2: sharp on a phone)."""
    return cairosvg.svg2png(bytestring=svg.encode("utf-8"), scale=scale)
