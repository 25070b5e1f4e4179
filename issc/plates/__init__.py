"""Licence plates: OCR engines, text rules, plate finding, tracking and per-track voting.

Plates know nothing of detectors or analyzers: ``issc.detect`` wraps the plate locator as a
detector, and ``issc.analysis`` joins detectors and plate reading per camera.
"""
