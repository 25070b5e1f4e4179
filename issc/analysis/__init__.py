"""Per-frame analysis: where detection, tracking and plate reading plug into the engine.

* ``analyzer.py``: the ``Analyzer`` protocol (one per camera, one thread), what one analysed frame
  produced (``Analysis``) and ``NullAnalyzer``.
* ``plates.py``: ``PlateAnalyzer``, people and plates with one plate event per vehicle pass.
* ``people.py``: ``PeopleMinutes``, per-frame people counts aggregated per camera and minute.

Layering: ``issc.analysis`` joins ``issc.detect`` (finding) and ``issc.plates`` (tracking, reading,
voting); neither of those imports it. The engine and the service import the names below.
"""

from issc.analysis.analyzer import Analysis, Analyzer, NullAnalyzer
from issc.analysis.people import PeopleMinutes
from issc.analysis.plates import PlateAnalyzer

__all__ = ["Analysis", "Analyzer", "NullAnalyzer", "PeopleMinutes", "PlateAnalyzer"]
