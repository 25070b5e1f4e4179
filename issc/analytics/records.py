"""What counting produces: the frozen records of ``issc.types`` that the store keeps and the API serves.

They live in ``issc.types`` because they cross layers (the engine's sink, the store); named here too.
"""

from issc.types import AnalyticsRecord, Crossing, HourTotals, PlateDirection, ZoneVisit

__all__ = ["AnalyticsRecord", "Crossing", "HourTotals", "PlateDirection", "ZoneVisit"]
