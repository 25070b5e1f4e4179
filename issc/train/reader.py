"""``python -m issc.train reader``: train the plate recogniser that gives PP-OCR a second opinion.

    nice -n 5 python -m issc.train reader --work /tmp/reader-work \\
        --named ../data-train/br --exclude ../shared/data/plates/manifest.csv \\
        --exclude ../shared/data/plates/crops/labels.csv

The model (``issc.plates.ocr.second``) reads one text line crop, as PP-OCR's text detector cuts it
from a plate, into ``[0-9A-Z]`` with CTC: a small CRNN (six convolutions and a bidirectional LSTM,
about 0.25 M weights, 1 MB as ONNX; small enough to train on a shared 2-core machine). It learns from:

* synthetic US-style registration rows (``plate_synth``), drawn from the seed;
* real plate crops with their text, from folders whose file names hold it (``--named``, e.g.
  openalpr/train-detector ``br/``) or that hold a ``labels.csv`` in the crops layout (``--crops``:
  ``python -m issc.review export`` output, so an operator's corrections teach it their cameras).
  Each crop is cut to its registration line by PP-OCR's detector, exactly as the live reader does,
  and kept only when that line's read is close to the label (``MIN_LINE_SIMILARITY``).

``--init reader.onnx`` fine-tunes from an exported model instead of starting from scratch (cheaper
on a shared CPU); ``--crops-val-share 0.5`` holds out half of each ``--crops`` folder.

Real crops are split by a fixed hash of their file name (``VAL_SHARE`` held out); plates whose text
is in an ``--exclude`` manifest are dropped (keep evaluation sets out). The command writes the ONNX
model and a data card with the counts, the command line and the held-out metrics.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from issc.plates.ocr.second import ALPHABET, INPUT_H, INPUT_W, MODEL_PATH, ctc_decode, line_input
from issc.progress import progress
from issc.train.reader_data import (
    VAL_SHARE,
    excluded_texts,
    manifest_crops,
    named_crops,
    real_lines,
)

#: Look-alike pairs whose confusions the card counts.
PAIRS = ("1I", "6G", "0D", "8B", "5S", "5B", "4L", "0U", "1J", "EF", "2Z")


def encode(text: str) -> list[int]:
    """CTC targets: class 1 + the index in ``ALPHABET``."""
    return [ALPHABET.index(c) + 1 for c in text]


def build_model():
    """The CRNN: (batch, 1, 24, 96) grey in, (batch, 24 frames, 1 + 36 classes) logits out."""
    import torch
    from torch import nn

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    class Crnn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                *block(1, 16),
                nn.MaxPool2d(2),  # 12 x 48
                *block(16, 32),
                nn.MaxPool2d(2),  # 6 x 24
                *block(32, 64),
                *block(64, 64),
                nn.MaxPool2d((2, 1)),  # 3 x 24
                *block(64, 96),
                nn.Conv2d(96, 128, (3, 1), bias=False),  # 1 x 24
                nn.BatchNorm2d(128),
                nn.ReLU(inplace=True),
            )
            self.rnn = nn.LSTM(128, 64, bidirectional=True, batch_first=True)
            self.head = nn.Linear(128, 1 + len(ALPHABET))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.features(x).squeeze(2).permute(0, 2, 1)  # batch, frames, channels
            f, _ = self.rnn(f)
            return self.head(f)

    return Crnn()


def load_onnx_weights(model, path: Path) -> None:
    """Load an exported ``reader.onnx`` back into ``build_model()``'s torch model, to fine-tune it.

    The exporter folded each batch norm into its convolution (weight and bias); the bias goes back
    into the batch norm as its shift, with unit scale and statistics, so the model computes the
    same function (``freeze_batch_norm`` keeps it so while training). The LSTM's gates are in
    ONNX's order (input, output, forget, cell) and go back to torch's (input, forget, cell, output).
    """
    import onnx
    import torch
    from onnx import numpy_helper
    from torch import nn

    graph = onnx.load(str(path)).graph
    weights = {i.name: numpy_helper.to_array(i).copy() for i in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    lstm = next(n for n in graph.node if n.op_type == "LSTM")
    matmul = next(n for n in graph.node if n.op_type == "MatMul")
    layers = list(model.features)
    torch_convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    norms = [m for m in layers if isinstance(m, nn.BatchNorm2d)]
    if len(convs) != len(torch_convs) or len(norms) != len(torch_convs):
        raise ValueError(f"{path} does not have this model's layers")
    with torch.no_grad():
        for node, conv, norm in zip(convs, torch_convs, norms, strict=True):
            conv.weight.copy_(torch.from_numpy(weights[node.input[1]]))
            norm.weight.fill_(1.0)
            norm.bias.copy_(torch.from_numpy(weights[node.input[2]]))
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
        hidden = model.rnn.hidden_size
        order = [0, 2, 3, 1]  # torch's gate k is ONNX's gate order[k]

        def gates(a: np.ndarray) -> torch.Tensor:
            blocks = [a[g * hidden : (g + 1) * hidden] for g in range(4)]
            return torch.from_numpy(np.concatenate([blocks[k] for k in order]))

        w, r, b = (weights[name] for name in lstm.input[1:4])
        for d, suffix in enumerate(("", "_reverse")):
            getattr(model.rnn, f"weight_ih_l0{suffix}").copy_(gates(w[d]))
            getattr(model.rnn, f"weight_hh_l0{suffix}").copy_(gates(r[d]))
            getattr(model.rnn, f"bias_ih_l0{suffix}").copy_(gates(b[d][: 4 * hidden]))
            getattr(model.rnn, f"bias_hh_l0{suffix}").copy_(gates(b[d][4 * hidden :]))
        model.head.weight.copy_(torch.from_numpy(weights[matmul.input[1]].T.copy()))
        model.head.bias.copy_(torch.from_numpy(weights["head.bias"]))


def freeze_batch_norm(model) -> None:
    """Keep the batch norms' running statistics as loaded (their scale and shift still learn)."""
    from torch import nn

    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
            m.train = lambda mode=True, _m=m: _m  # model.train() must not switch them back


def decode_batch(logits: np.ndarray) -> list[str]:
    """Greedy CTC texts of a batch of logits."""
    return ["".join(c.char for c in ctc_decode(row, top_k=1)) for row in logits]


def confusions(pairs: Iterable[tuple[str, str]]) -> Counter[str]:
    """``truth→read`` counts of substituted characters between equal-length truths and reads."""
    out: Counter[str] = Counter()
    for truth, read in pairs:
        if len(truth) == len(read):
            out.update(f"{a}→{b}" for a, b in zip(truth, read, strict=True) if a != b)
    return out


def evaluate(model, inputs: np.ndarray, texts: Sequence[str]) -> dict[str, object]:
    """Line exact rate, character confusions and look-alike confusions of ``model`` on a set."""
    import torch

    if len(texts) == 0:
        return {"lines": 0}
    model.eval()
    reads: list[str] = []
    with torch.no_grad():
        for start in range(0, len(texts), 256):
            reads += decode_batch(model(torch.from_numpy(inputs[start : start + 256])).numpy())
    model.train()
    conf = confusions(zip(texts, reads, strict=True))
    look = sum(n for k, n in conf.items() if k[0] + k[2] in PAIRS or k[2] + k[0] in PAIRS)
    return {
        "lines": len(texts),
        "exact": round(sum(t == r for t, r in zip(texts, reads, strict=True)) / len(texts), 4),
        "look_alike_confusions": look,
        "top_confusions": dict(conf.most_common(12)),
    }


def train(args: argparse.Namespace) -> dict[str, object]:
    """Build the sets, train, export; the metrics and counts for the card."""
    import torch

    from issc.train.plate_synth import degrade, render_line

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    started = time.monotonic()

    sources = [named_crops(folder) for folder in args.named]
    sources += [manifest_crops(folder, args.crops_val_share) for folder in args.crops]
    crops = [c for source in sources for c in source]
    dropped = excluded_texts(args.exclude)
    lines = []
    for source in sources:  # cut and cached per folder: adding a folder does not cut the others again
        kept = [c for c in source if c.text not in dropped and set(c.text) <= set(ALPHABET)]
        lines += real_lines(kept, args.work) if kept else []
    kept_count = sum(c.text not in dropped and set(c.text) <= set(ALPHABET) for c in crops)
    print(f"real crops: {len(crops)} ({len(crops) - kept_count} excluded by text)", flush=True)
    real_train = [(g, t) for g, t, held in lines if not held]
    real_val = [(g, t) for g, t, held in lines if held]
    print(f"real lines: {len(real_train)} train, {len(real_val)} held out", flush=True)

    print(f"rendering {args.synthetic} + {args.synthetic_val} synthetic lines", flush=True)
    synth = [render_line(rng) for _ in range(args.synthetic)]
    val_rng = np.random.default_rng(args.seed + 1)
    synth_val = [render_line(val_rng) for _ in range(args.synthetic_val)]

    train_set = list(synth)
    for grey, text in real_train:
        train_set.append((grey, text))
        train_set += [(degrade(grey, rng), text) for _ in range(args.real_repeat - 1)]
    x = np.stack([line_input(g) for g, _ in train_set])
    y = [t for _, t in train_set]
    xs_val, ys_val = np.stack([line_input(g) for g, _ in synth_val]), [t for _, t in synth_val]
    xr_val = (
        np.stack([line_input(g) for g, _ in real_val])
        if real_val
        else np.zeros((0, 1, INPUT_H, INPUT_W), np.float32)
    )
    yr_val = [t for _, t in real_val]
    print(f"training on {len(y)} lines ({time.monotonic() - started:.0f} s so far)", flush=True)

    model = build_model()
    if args.init is not None:
        load_onnx_weights(model, args.init)
        freeze_batch_norm(model)
        print(f"fine-tuning from {args.init} (batch norm frozen)", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.15)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    deadline = started + args.max_minutes * 60
    step = 0
    for step in progress(range(1, args.steps + 1), total=args.steps, desc="train reader", unit="step"):
        idx = rng.integers(0, len(y), args.batch)
        batch = torch.from_numpy(x[idx])
        targets = [encode(y[i]) for i in idx]
        logits = model(batch)  # batch, frames, classes
        log_probs = logits.log_softmax(2).permute(1, 0, 2)
        loss = ctc(
            log_probs,
            torch.tensor([c for t in targets for c in t]),
            torch.full((len(idx),), log_probs.shape[0], dtype=torch.long),
            torch.tensor([len(t) for t in targets]),
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0:
            print(
                f"  step {step}/{args.steps} loss {loss.item():.3f} ({time.monotonic() - started:.0f} s)",
                flush=True,
            )
        if time.monotonic() > deadline:
            print(f"  stopped at step {step}: --max-minutes {args.max_minutes} reached", flush=True)
            break

    metrics = {
        "synthetic_val": evaluate(model, xs_val, ys_val),
        "real_val": evaluate(model, xr_val, yr_val),
        "steps": step,
        "train_minutes": round((time.monotonic() - started) / 60, 1),
    }
    export(model, args.out)
    return {
        "metrics": metrics,
        "counts": {
            "synthetic": len(synth),
            "real_crops": len(crops),
            "real_excluded": len(crops) - kept_count,
            "real_train_lines": len(real_train),
            "real_val_lines": len(real_val),
        },
    }


def export(model, out: Path) -> None:
    """Write ``model`` as ONNX (input ``line``: (batch, 1, 24, 96); output ``logits``)."""
    import torch

    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    # The exporter warns that an LSTM exported with batch 1 may fail on other batches; the model's
    # initial states are zeros sized from the input, and batches of 2+ are checked by the tests.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size")
        torch.onnx.export(
            model,
            (torch.zeros(1, 1, INPUT_H, INPUT_W),),
            str(out),
            input_names=["line"],
            output_names=["logits"],
            dynamic_axes={"line": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m issc.train reader", description=__doc__.split("\n\n")[0].strip("`: ")
    )
    parser.add_argument(
        "--out", type=Path, default=MODEL_PATH, help="ONNX file to write (default: the committed model)"
    )
    parser.add_argument(
        "--card", type=Path, default=None, help="data card JSON to write (default: OUT with .json)"
    )
    parser.add_argument("--work", type=Path, required=True, help="folder for cached line cuts")
    parser.add_argument(
        "--named", type=Path, action="append", default=[], help="crops with the text in the file name"
    )
    parser.add_argument(
        "--crops",
        type=Path,
        action="append",
        default=[],
        help="crops with a labels.csv (python -m issc.review export)",
    )
    parser.add_argument(
        "--exclude",
        type=Path,
        action="append",
        default=[],
        help="manifest whose plate texts never train (eval sets)",
    )
    parser.add_argument(
        "--crops-val-share",
        type=float,
        default=VAL_SHARE,
        help="share of each --crops folder held out by a hash of the file name (0.5: half)",
    )
    parser.add_argument(
        "--init", type=Path, default=None, help="fine-tune from this exported model (e.g. the committed one)"
    )
    parser.add_argument("--synthetic", type=int, default=6000, help="synthetic training lines")
    parser.add_argument("--synthetic-val", type=int, default=1000, help="synthetic held-out lines")
    parser.add_argument("--real-repeat", type=int, default=3, help="copies of each real line (degraded)")
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    parser.add_argument("--max-minutes", type=float, default=45.0, help="stop training after this long")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m issc.train reader``."""
    args = build_parser().parse_args(argv)
    for folder in [*args.named, *args.crops]:
        if not folder.is_dir():
            print(f"{folder} is not a folder of plate crops", file=sys.stderr)
            return 2
    result = train(args)
    card = {
        "command": "python -m issc.train reader " + " ".join(sys.argv[2:] if argv is None else argv),
        "seed": args.seed,
        **result,
    }
    card_path = args.card or args.out.with_suffix(".json")
    card_path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(card["metrics"], ensure_ascii=False))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) and {card_path}")
    return 0
