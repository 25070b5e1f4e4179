"""The plate verifier's training: ``python -m issc.train verifier`` trains it and exports it to ONNX.

Each ``--source`` is read by ``issc.train.candidates`` (the locator's text lines, marked plate or
not; cached in ``--cache``). Pictures are split by a fixed hash of their name (a clip's frames go
together): ``--val-share`` of them, and every picture of a source whose name ends in ``-val``, are
held out and only measured. The model (``VerifierNet``: four 3×3 conv blocks on the grey window,
the read's features joined before one hidden layer, two heads) learns plate / not plate (binary
cross-entropy, classes weighed equally) and the plate box as fractions of the window (smooth L1,
plates only). Training is seeded (``--seed``) and bounded (``--epochs``, ``--max-seconds``), on one
thread. It prints precision and recall per held-out source and the box recall (IoU ≥ 0.5 with the
labelled plate box) of the text line boxes, the regressed boxes, the line boxes grown by the
locator's margins and the box the locator reports (``chosen_plate_boxes``: regressed only where the
plate clearly reaches beyond the line), and writes them with the model as ``<out>.json``.

A module per job: ``data`` (the held-out split, and candidates cut into windows, features and
targets), ``net`` (``VerifierNet`` and its ONNX export), ``fit`` (the seeded, bounded training loop
with its photometric augmentation), ``evaluate`` (the operating threshold and the held-out
figures, measured with onnxruntime as the live path runs the model) and ``cli`` (the command).
"""
