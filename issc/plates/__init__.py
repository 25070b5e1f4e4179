"""Licence plates: OCR engines, text rules, plate finding, per-track voting and the analyzer."""
