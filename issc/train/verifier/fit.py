"""The verifier's training loop: seeded, bounded in epochs and seconds, on one thread, with the
photometric changes a camera makes applied to every batch.

The loss: binary cross-entropy for plate / not plate (classes weighed equally) plus smooth L1 on
the plate box (plates only).
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from issc.plates.verifier import standardise
from issc.progress import progress
from issc.train.verifier.data import Arrays
from issc.train.verifier.net import verifier_net


def augment(crops: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Photometric changes a camera makes: contrast and brightness, blur, noise, inversion."""
    x = crops.astype(np.float32)
    n = len(x)
    x = x * rng.uniform(0.5, 1.4, (n, 1, 1)) + rng.uniform(-40, 40, (n, 1, 1))
    blur = rng.random(n) < 0.3
    for i in np.flatnonzero(blur):
        x[i] = cv2.GaussianBlur(x[i], (0, 0), rng.uniform(0.5, 1.5))
    x += rng.normal(0, 1, (n, 1, 1)) * rng.uniform(0, 8, (n, 1, 1)) * rng.standard_normal(x.shape)
    invert = rng.random(n) < 0.15  # light print on dark plates and signs
    x[invert] = 255.0 - x[invert]
    return x.clip(0, 255).astype(np.uint8)


def train(train_set: Arrays, epochs: int, seed: int, max_seconds: float, log: bool = True):
    """Fit ``VerifierNet`` on ``train_set``; stops after ``epochs`` or ``max_seconds``."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    net = verifier_net(torch)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    n = len(train_set.label)
    batch = 128
    steps = max(1, epochs * ((n + batch - 1) // batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    pos = float(train_set.label.sum())
    pos_weight = torch.tensor((n - pos) / max(pos, 1.0))
    feats = torch.from_numpy(train_set.feats)
    labels = torch.from_numpy(train_set.label)
    boxes = torch.from_numpy(np.nan_to_num(train_set.box, nan=0.0))
    has_box = torch.from_numpy(~np.isnan(train_set.box[:, 0]))
    start = time.monotonic()
    step = 0
    net.train()
    for epoch in progress(range(epochs), total=epochs, desc="train verifier", unit="epoch"):
        order = rng.permutation(n)
        total = 0.0
        for i in range(0, n, batch):
            idx = order[i : i + batch]
            x = torch.from_numpy(standardise(augment(train_set.crops[idx], rng)))
            logit, box = net(x, feats[idx])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logit, labels[idx], pos_weight=pos_weight
            )
            mask = has_box[idx]
            if mask.any():
                loss = loss + 4.0 * torch.nn.functional.smooth_l1_loss(box[mask], boxes[idx][mask], beta=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step < steps - 1:
                sched.step()
            step += 1
            total += float(loss.detach()) * len(idx)
        if log:
            print(
                f"  epoch {epoch + 1}/{epochs}: loss {total / n:.4f} ({time.monotonic() - start:.0f} s)",
                flush=True,
            )
        if time.monotonic() - start > max_seconds:
            if log:
                print(f"  stopped after {max_seconds:.0f} s (--max-seconds)", flush=True)
            break
    net.eval()
    return net
