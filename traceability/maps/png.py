"""SVG maps rendered to PNG with cairosvg (for chat apps and printouts that take no SVG)."""


def svg_to_png(svg: str, *, scale: float = 2.0) -> bytes:
    """``svg`` as PNG bytes, ``scale`` times its pixel size (2: sharp on a phone)."""
    # Imported on first use: loading cairo's bindings costs every server start a quarter
    # of a second, and most never draw a PNG.
    import cairosvg

    return cairosvg.svg2png(bytestring=svg.encode("utf-8"), scale=scale)
