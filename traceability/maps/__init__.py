"""Maps drawn from the geometries, with no outside tiles: geometry in, SVG text out.

Pure (no database, no web): WGS84 geometries are projected to their UTM zone (48N in the
Mekong) so a metre on the ground is the same number of pixels across and up, and drawn as
plain SVG written by hand (:mod:`.svg`), not matplotlib: each layer is a ``<g id=...>``
of ``<path class="feature">`` elements, with a legend (Vietnamese; ``lang="en"``
English), a scale bar in metres and a north arrow. :mod:`.png` renders any of them with
cairosvg.

- :mod:`.mission` — the as-applied map of a mission: fields, swath, overlap, overspray,
  no-spray zones and the spray inside them;
- :mod:`.season` — a field's season: every drone mission's swath over it, and the hand
  applications listed;
- :mod:`.communes` — hectares treated per commune, as proportional circles at the
  centroid of each commune's fields;
- :mod:`.charts` — bar charts for the office's dashboard.
"""
