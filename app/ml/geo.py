"""Places on the sphere: great-circle distances, and commute limits as angles.

Distances are computed as SQL ``ponte_haversine_km`` computes them (migration 0002), so the
pool and the database path agree to the last bit that matters.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

EARTH_KM = 6371.0088


def unit_point(lat: float, lon: float) -> tuple[float, float, float]:
    """The point at (lat, lon), in radians, on the unit sphere (NaN when unknown)."""
    cos_lat = math.cos(lat)
    return (cos_lat * math.cos(lon), cos_lat * math.sin(lon), math.sin(lat))


def reach_cosine(max_km: float | None, lat: float | None, lon: float | None) -> float:
    """The cosine of the angle a commute limit spans from a known place (NaN when the place or
    the limit is unknown): a point is within reach when its cosine to the place is at least
    this."""
    if max_km is None or lat is None or lon is None:
        return math.nan
    return math.cos(min(max_km / EARTH_KM, math.pi))


def haversine_km(lat: float, lon: float, lats: F64, lons: F64, cos_lats: F64) -> F64:
    """Great-circle km from (lat, lon) in degrees to points given in radians (with the cosine
    of their latitude); NaN where a point is unknown."""
    # In place, one temporary per term: this runs over every row of a tenant.
    lat0 = math.radians(lat)
    h: F64 = np.subtract(lat0, lats)
    h *= 0.5
    np.sin(h, out=h)
    h *= h
    across = np.subtract(math.radians(lon), lons)
    across *= 0.5
    np.sin(across, out=across)
    across *= across
    across *= cos_lats
    across *= math.cos(lat0)
    h += across
    np.sqrt(h, out=h)
    np.arcsin(h, out=h)
    h *= 2 * EARTH_KM
    return h
