"""Training commands for the project's own models (``python -m issc.train NAME ...``).

Never imported by the live path (an import-linter contract): the live code loads only the exported
weights committed beside it (``issc/plates/models/``).
"""
