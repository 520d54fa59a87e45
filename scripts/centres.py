#!/usr/bin/env python3
"""Writes the centre of each administration's area (the middle of its bounding box in the map
layers) as CSV: `ars;laenge;breite`. The network's distances are measured between these.

    python3 scripts/centres.py data/geo/brandenburg_kreise.geojson \
        data/geo/brandenburg_verwaltungstraeger.geojson > data/brandenburg_zentren.csv

A later layer wins for an ARS in both (the Landkreise's own administrations)."""
import json
import sys


def points(coords):
    if coords and isinstance(coords[0], (int, float)):
        yield coords
    else:
        for c in coords:
            yield from points(c)


centres = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        layer = json.load(f)
    for feature in layer["features"]:
        ars = feature["properties"].get("ars")
        if not ars:
            continue
        xs, ys = zip(*((p[0], p[1]) for p in points(feature["geometry"]["coordinates"])))
        centres[ars] = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)

print("ars;laenge;breite")
for ars in sorted(centres):
    lon, lat = centres[ars]
    print(f"{ars};{lon:.6f};{lat:.6f}")
