"""Measure plate finding and reading on labelled data, and run the live pipeline on a clip.

    python -m issc.eval plates --manifest ../shared/data/plates/manifest.csv --root ../shared/data/plates
    python -m issc.eval plates --manifest ../shared/data/plates/crops/labels.csv \\
        --root ../shared/data/plates/crops --crops --region us
    python -m issc.eval video ../shared/data/videos/aiguy_license_plate_uk_LS15EBC.mp4 --json

Everything runs offline with the default stack (RapidOCR text detector as plate locator,
RapidOCR reader); ``--engine``/``--preprocess`` compare the alternatives and ``--region`` picks
the plate rules (``PLATE_REGION``). An image in which no plate is found counts as a miss;
``--verbose`` gives each miss's reason (``MISS_REASONS``) and ``--json`` adds the totals by plate
height (``HEIGHT_BANDS``) and the character confusions (``confusions``: truth -> read counts).

The package: ``manifest`` (the labelled samples), ``sample`` (one sample run and scored, and why
a read is wrong), ``metrics`` (totals over samples), ``confusions`` (character confusions),
``plates`` and ``video`` (the two commands) and ``cli`` (the parser and entry point).
"""
