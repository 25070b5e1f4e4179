"""ISSC: live camera analytics — people counting and licence plate reading."""

__version__ = "0.1.0"
