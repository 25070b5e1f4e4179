"""Synthetic US-style plate text lines for training the plate reader (``issc.train.reader``).

No public US plate set with text labels may be used (the only one is how the project is measured),
so the reader learns US plates from renders: the registration row of a plate as the text detector
cuts it (its line box, a little of the plate around it), 5-7 letters and digits mixed freely, in
the fonts Debian ships under free licences (DIN 1451 style ``fonts-opendin``, Roboto Condensed,
Liberation Sans Narrow, DejaVu Sans Condensed: all OFL or similar), on state-like backgrounds
(white, cream, yellow, blue, gradients), with a separator or a small emblem between the groups,
frame and sticker edges, and the camera's faults: perspective, blur, noise, JPEG, glare and night.

``render_line(rng)`` gives one grey line image and its text; everything is drawn from ``rng``, so
a seed gives the same set every time.
"""

from __future__ import annotations

import glob
import string
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from issc.plates.ocr.second import ALPHABET

#: Font files tried, in the order they are listed (missing ones are skipped).
FONT_GLOBS = (
    "/usr/share/fonts/truetype/opendin/*.ttf",
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Bold.ttf",
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Medium.ttf",
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Regular.ttf",
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoTTF/Roboto-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
)
#: US layouts (A letter, 9 digit, * either) drawn half of the time; the other half is free mixes.
US_MASKS = ("AAA9999", "9AAA999", "AAA999", "999AAA", "A99AAA", "9AA9999", "99A999", "9A99999", "AA99999")
#: Look-alike characters drawn more often (the confusions the reader is trained to settle).
CONFUSABLE = "1I6G0D8B5S4LU0J1EFZ2"


@lru_cache(maxsize=1)
def font_files() -> tuple[str, ...]:
    """The installed font files of ``FONT_GLOBS``.

    Raises:
        FileNotFoundError: None is installed (install fonts-opendin, fonts-roboto, fonts-liberation).
    """
    files = tuple(f for pattern in FONT_GLOBS for f in sorted(glob.glob(pattern)))
    if not files:
        raise FileNotFoundError(
            "no plate fonts found: install fonts-opendin, fonts-roboto or fonts-liberation"
        )
    return files


@lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def random_text(rng: np.random.Generator) -> str:
    """A plate text: a US layout half of the time, else 5-7 characters mixed freely, with the
    look-alikes (``CONFUSABLE``) drawn often."""
    if rng.random() < 0.5:
        mask = US_MASKS[rng.integers(len(US_MASKS))]
        return "".join(
            string.ascii_uppercase[rng.integers(26)] if s == "A" else string.digits[rng.integers(10)]
            for s in mask
        )
    n = int(rng.integers(5, 8))
    pool = ALPHABET + CONFUSABLE * 2
    return "".join(pool[rng.integers(len(pool))] for _ in range(n))


@dataclass(frozen=True)
class _Style:
    background: tuple[int, int, int]
    ink: tuple[int, int, int]


def _style(rng: np.random.Generator) -> _Style:
    """Plate colours: dark ink on a light plate mostly, light ink on a dark plate sometimes."""
    light = tuple(int(v) for v in rng.integers(170, 256, 3))
    dark = tuple(int(v) for v in rng.integers(0, 90, 3))
    if rng.random() < 0.85:
        return _Style(light, dark)  # type: ignore[arg-type]
    return _Style(dark, light)  # type: ignore[arg-type]


def _draw_text(
    text: str, rng: np.random.Generator, style: _Style
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The plate's registration row on its background (RGB) and the box of the ink."""
    font_path = font_files()[rng.integers(len(font_files()))]
    size = 40
    font = _font(font_path, size)
    gap_at = int(rng.integers(2, len(text) - 1)) if rng.random() < 0.5 else -1
    gap_kind = rng.choice(["space", "dash", "emblem", "dot"])
    spacing = int(rng.integers(-2, 10))
    widths = [font.getbbox(c)[2] - font.getbbox(c)[0] for c in text]
    gap_w = int(rng.integers(9, 25)) if gap_at >= 0 else 0
    total = sum(widths) + spacing * (len(text) - 1) + gap_w
    pad_x, pad_y = 36, 24
    w, h = total + 2 * pad_x, size + 2 * pad_y
    img = Image.new("RGB", (w, h), style.background)
    draw = ImageDraw.Draw(img)
    # a gentle vertical gradient or a band of colour behind the text, as state graphics do
    if rng.random() < 0.5:
        tint = np.array(style.background, np.float32) * rng.uniform(0.75, 1.0)
        arr = np.asarray(img).astype(np.float32)
        ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        arr = arr * (1 - ramp) + tint * ramp
        img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(img)
    x = pad_x
    top = pad_y - font.getbbox(text)[1]
    for i, c in enumerate(text):
        if i == gap_at:
            cx, cy = x + gap_w // 2, pad_y + size // 2
            if gap_kind == "dash":
                draw.rectangle([cx - 4, cy - 2, cx + 4, cy + 2], fill=style.ink)
            elif gap_kind == "dot":
                draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=style.ink)
            elif gap_kind == "emblem":
                r = int(rng.integers(4, 9))
                colour = tuple(int(v) for v in rng.integers(0, 256, 3))
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
            x += gap_w
        draw.text((x - font.getbbox(c)[0], top), c, font=font, fill=style.ink)
        x += widths[i] + spacing
    # an edge of a frame or a sticker at a side or above, now and then
    if rng.random() < 0.3:
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        side = rng.integers(4)
        t = int(rng.integers(3, 9))
        box = [[0, 0, w, t], [0, h - t, w, h], [0, 0, t, h], [w - t, 0, w, h]][side]
        draw.rectangle(box, fill=colour)
    if rng.random() < 0.2:  # small print above the row (a state name's bottom, a slogan)
        small = _font(font_path, int(rng.integers(9, 14)))
        words = "".join(rng.choice(list(string.ascii_uppercase), int(rng.integers(4, 10))))
        draw.text(
            (pad_x + int(rng.integers(0, 25)), int(rng.integers(0, 8))), words, font=small, fill=style.ink
        )
    return np.asarray(img), (pad_x, pad_y, pad_x + total, pad_y + size)


def degrade(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera faults on a grey line: blur, glare, night, noise, JPEG."""
    out = grey.astype(np.float32)
    h, w = out.shape
    if rng.random() < 0.3:  # glare: a bright soft blob
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.2, 0.8) * w
        yy, xx = np.mgrid[0:h, 0:w]
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        out = out + blob * rng.uniform(30, 100)
    if rng.random() < 0.2:  # night: dark, low contrast
        out = out * rng.uniform(0.3, 0.6)
    else:
        out = (out - 128) * rng.uniform(0.6, 1.2) + 128 + rng.uniform(-30, 30)
    if rng.random() < 0.6:
        k = rng.uniform(0.3, 1.1)
        out = cv2.GaussianBlur(out, (0, 0), k)
    if rng.random() < 0.2:  # motion blur
        n = int(rng.integers(3, 7))
        kernel = np.zeros((n, n), np.float32)
        kernel[n // 2, :] = 1.0 / n
        out = cv2.filter2D(out, -1, kernel)
    out = out + rng.normal(0, rng.uniform(0, 8), out.shape)
    out = out.clip(0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 90))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out


def render_line(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One synthetic registration line, grey uint8, as the text detector would cut it, and its text.

    The row is drawn large, warped by a small random perspective, cut around its ink with a random
    margin (the detector's box is loose by 0-30 % of the height), shrunk to a plate's size in a
    camera frame (16-48 px high) and degraded (``degrade``).
    """
    text = random_text(rng)
    rgb, (x0, y0, x1, y1) = _draw_text(text, rng, _style(rng))
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    # perspective: jitter the corners of the ink box
    th = y1 - y0
    src = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    jitter = rng.uniform(-0.12, 0.12, (4, 2)) * th
    shear = rng.uniform(-0.15, 0.15) * th
    dst = src + jitter.astype(np.float32) + np.float32([[shear, 0], [shear, 0], [0, 0], [0, 0]])
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(grey, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    # cut around the warped ink box with a loose margin
    bx0, by0 = dst.min(axis=0)
    bx1, by1 = dst.max(axis=0)
    my = rng.uniform(0.0, 0.3, 2) * th
    mx = rng.uniform(0.0, 0.4, 2) * th
    cx0, cy0 = int(max(0, bx0 - mx[0])), int(max(0, by0 - my[0]))
    cx1, cy1 = int(min(w, bx1 + mx[1])), int(min(h, by1 + my[1]))
    line = warped[cy0:cy1, cx0:cx1]
    target_h = int(rng.integers(16, 49))
    scale = target_h / line.shape[0]
    line = cv2.resize(line, (max(8, round(line.shape[1] * scale)), target_h), interpolation=cv2.INTER_AREA)
    return degrade(line, rng), text


def render_plate(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A clean synthetic plate crop (BGR uint8, the registration row with the plate around it) and
    its text: what a camera's crop of a plate looks like before the faults of ``render_line``."""
    text = random_text(rng)
    rgb, _ = _draw_text(text, rng, _style(rng))
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), text
