"""Distances between four-digit postcode areas, and the box that contains every area within reach.

Reservists and locations carry the representative point of their PC4 area; the
distance between two of them is the great-circle (haversine) distance. It is a
straight line, not a road distance: the rule it serves ("within the reservist's
maximum travel distance") is declared by the reservist in the same terms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE_LATITUDE = math.pi * EARTH_RADIUS_KM / 180  # about 111.2 km
#: The box is widened by this factor so rounding never drops someone on its edge.
BOX_MARGIN = 1.02


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in kilometres between two points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Box:
    """Latitude/longitude bounds (degrees) containing every point within ``km`` of a centre."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float


def lat_degrees(km: float) -> float:
    """Degrees of latitude that ``km`` can span at most (the great circle is never shorter)."""
    return km / KM_PER_DEGREE_LATITUDE * BOX_MARGIN


def lon_degrees(km: float, lat: float) -> float:
    """Degrees of longitude within ``km`` of a point at ``lat``, taken at the box's pole-ward edge."""
    edge = min(89.0, abs(lat) + lat_degrees(km))
    return km / (KM_PER_DEGREE_LATITUDE * math.cos(math.radians(edge))) * BOX_MARGIN


def bounding_box(lat: float, lon: float, km: float) -> Box:
    """A box that holds every point within ``km`` of (lat, lon): a necessary condition for SQL."""
    d_lat, d_lon = lat_degrees(km), lon_degrees(km, lat)
    return Box(lat - d_lat, lat + d_lat, lon - d_lon, lon + d_lon)
