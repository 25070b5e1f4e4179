"""Synthetic plates and non-plate signs pasted into real pictures, for the plate verifier.

The real training sets hold Spanish and Romanian plates only. To show the verifier plates of other
layouts (US-like 2:1 plates with a state name above and a slogan below, stacked two-row plates,
yellow, grey and blue-grey panels, frames) and more of the text it must refuse (make badges, shop
words, dates), ``synthesise`` renders both with free fonts (Debian's ``fonts-opendin``,
``fonts-dejavu``, ``fonts-liberation``, ``fonts-roboto``; OFL / Bitstream Vera / Apache licences)
and pastes them into real background pictures at random sizes. Every picture is seeded by its
index, so a set is the same on every run.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype")
#: Bold, upright fonts whose glyphs look like plate print.
FONT_NAMES = (
    "opendin/OSP-DIN.ttf",
    "dejavu/DejaVuSans-Bold.ttf",
    "dejavu/DejaVuSansCondensed-Bold.ttf",
    "dejavu/DejaVuSansMono-Bold.ttf",
    "liberation/LiberationSans-Bold.ttf",
    "liberation/LiberationSansNarrow-Bold.ttf",
    "liberation/LiberationMono-Bold.ttf",
    "roboto/unhinted/RobotoTTF/Roboto-Bold.ttf",
    "roboto/unhinted/RobotoCondensed-Bold.ttf",
)
STATES = ("OHIO", "TEXAS", "FLORIDA", "NEW YORK", "California", "GEORGIA", "Arizona", "VIRGINIA", "IOWA")
SLOGANS = (
    "Sunshine State",
    "EMPIRE STATE",
    "Grand Canyon State",
    "Peach State",
    "GO BUCKS",
    "Land of Lincoln",
)
#: Text that is no registration: makes and models, shop and street words, dealer frames, dates.
WORDS = (
    "TOYOTA",
    "HONDA",
    "NISSAN",
    "FORD",
    "SKODA",
    "RENAULT",
    "PEUGEOT",
    "CITROEN",
    "VOLVO",
    "AUDI",
    "COROLLA",
    "CAMRY",
    "ACCORD",
    "OUTBACK",
    "HYBRID",
    "TURBO",
    "DIESEL",
    "SPORT",
    "LIMITED",
    "SALE",
    "OPEN",
    "PARKING",
    "EXIT",
    "POLICE",
    "TAXI",
    "PHARMACY",
    "HOTEL",
    "STOP",
    "ONE WAY",
    "MAIN ST",
    "NOTICE",
    "CAUTION",
    "ADVANCE",
    "Welcome",
    "Coffee",
    "Dealer",
    "AUTO MALL",
)
#: Model badges and engine marks, many with digits.
MODELS = (
    "120L",
    "320d",
    "V6",
    "4x4",
    "TDI",
    "2.0 TDI",
    "GTI",
    "4MATIC",
    "X5",
    "A4",
    "CX-5",
    "RAV4",
    "F-150",
    "1.6i",
    "V8",
    "206",
    "500X",
)


@dataclass(frozen=True)
class Pasted:
    """A synthetic picture and what was pasted.

    Attributes:
        image: The picture (BGR).
        plates: Plate boxes (xyxy).
        signs: Sign boxes (xyxy).
        lines: Every text line drawn: (box xyxy, text, 1 for a registration row, 0 for any other
            print: state, slogan, sticker, sign).
    """

    image: np.ndarray
    plates: list[tuple[float, float, float, float]]
    signs: list[tuple[float, float, float, float]]
    lines: list[tuple[tuple[float, float, float, float], str, int]] = field(default_factory=list)


#: A panel's drawn text: (box xyxy in panel pixels, text, 1 registration / 0 other print).
Drawn = list[tuple[tuple[float, float, float, float], str, int]]


def _font(rng: np.random.Generator, size: int) -> ImageFont.FreeTypeFont:
    names = [n for n in FONT_NAMES if (FONT_DIR / n).exists()]
    if not names:
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(FONT_DIR / names[int(rng.integers(len(names)))]), size)


def registration(rng: np.random.Generator) -> str:
    """5 to 8 letters and digits in a plate-like mix (groups, a space or dash sometimes)."""
    letters, digits = string.ascii_uppercase, string.digits
    n = int(rng.integers(5, 9))
    masks = ("LLL9999", "9LLL999", "LL99LLL", "LL999LL", "9999LLL", "LLL999", "999LLL", "L99LLL", "LLL9L99")
    mask = masks[int(rng.integers(len(masks)))] if rng.random() < 0.8 else "".join(rng.choice(["L", "9"], n))
    text = "".join(letters[rng.integers(26)] if m == "L" else digits[rng.integers(10)] for m in mask)
    if rng.random() < 0.4:
        cut = int(rng.integers(2, len(text) - 1))
        text = text[:cut] + ("-" if rng.random() < 0.5 else " ") + text[cut:]
    return text


def render_plate(rng: np.random.Generator) -> tuple[np.ndarray, Drawn]:
    """One plate panel (BGR) and its drawn text: a registration in one or two rows, maybe a state
    name, a slogan, registration stickers (a year, a month, a serial) and a frame; dark print on
    a light panel, or light print on a dark one."""
    drawn: Drawn = []
    stacked = rng.random() < 0.15
    us = not stacked and rng.random() < 0.5
    h = 120
    w = int(h * (rng.uniform(1.1, 1.6) if stacked else 2.0 if us else rng.uniform(3.5, 4.7)))
    palette = [(245, 245, 245), (40, 200, 240), (200, 200, 195), (235, 225, 200), (230, 215, 190)]
    bg = palette[int(rng.integers(len(palette)))]
    ink = (20, 20, 20) if rng.random() < 0.85 else (120, 40, 20)
    if rng.random() < 0.15:  # light print on a dark plate
        bg, ink = (int(rng.integers(0, 60)),) * 3, (235, 235, 235)
    img = Image.new("RGB", (w, h), bg[::-1])
    draw = ImageDraw.Draw(img)
    strip = not us and not stacked and rng.random() < 0.5  # an EU strip on the left
    left = int(0.09 * w) if strip else 0
    if strip:
        draw.rectangle((0, 0, left, h), fill=(150, 50, 20))
    rows = [registration(rng).replace(" ", "").replace("-", "")] if not stacked else []
    if stacked:
        reg = registration(rng).replace(" ", "").replace("-", "")
        rows = [reg[: len(reg) // 2], reg[len(reg) // 2 :]]
    row_h = (0.40 if stacked else 0.55 if us else 0.72) * h
    top = (h - row_h * len(rows) - (0.05 * h if stacked else 0)) / 2
    for k, row in enumerate(rows):
        font = _font(rng, int(row_h))
        box = draw.textbbox((0, 0), row, font=font)
        tw, th = box[2] - box[0], box[3] - box[1]
        if tw > 0.92 * (w - left):
            font = _font(rng, int(row_h * 0.92 * (w - left) / tw))
            box = draw.textbbox((0, 0), row, font=font)
            tw, th = box[2] - box[0], box[3] - box[1]
        y = top + k * (row_h + 0.05 * h) + (row_h - th) / 2 - box[1]
        x = left + (w - left - tw) / 2 - box[0]
        draw.text((x, y), row, fill=ink[::-1], font=font)
        drawn.append(((x + box[0], y + box[1], x + box[2], y + box[3]), row, 1))
    if us:
        small = _font(rng, int(0.14 * h))
        for text, y in (
            (STATES[int(rng.integers(len(STATES)))], 0.05 * h),
            (SLOGANS[int(rng.integers(len(SLOGANS)))], 0.8 * h),
        ):
            box = draw.textbbox((0, 0), text, font=small)
            x = (w - box[2] + box[0]) / 2
            draw.text((x, y), text, fill=(160, 40, 40), font=small)
            drawn.append(((x + box[0], y + box[1], x + box[2], y + box[3]), text, 0))
        for corner in range(int(rng.integers(0, 3))):  # registration stickers in the corners
            text = (
                str(int(rng.integers(1995, 2030)))
                if rng.random() < 0.6
                else ("JAN", "FEB", "JUN", "SEP", "NOV")[int(rng.integers(5))]
            )
            font = _font(rng, int(0.13 * h))
            box = draw.textbbox((0, 0), text, font=font)
            sw, sh = box[2] - box[0] + 8, box[3] - box[1] + 8
            x = 4 if corner == 0 else w - sw - 4
            y = 4 if rng.random() < 0.5 else h - sh - 4
            colour = tuple(int(v) for v in rng.integers(0, 256, 3))
            draw.rectangle((x, y, x + sw, y + sh), fill=colour)
            dark = sum(colour) > 380
            draw.text(
                (x + 4 - box[0], y + 4 - box[1]), text, fill=(0, 0, 0) if dark else (255, 255, 255), font=font
            )
            drawn.append(((x + 4, y + 4, x + sw - 4, y + sh - 4), text, 0))
    if rng.random() < 0.5:  # a frame
        draw.rectangle((0, 0, w - 1, h - 1), outline=(20, 20, 20), width=int(rng.integers(2, 8)))
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR), drawn


def render_sign(rng: np.random.Generator) -> tuple[np.ndarray, Drawn]:
    """One panel of text that is no registration and its drawn text: a word, a make or model
    badge (some with digits), a date, a year, a phone number."""
    kind = rng.random()
    if kind < 0.12:
        text = str(int(rng.integers(1990, 2035)))
    elif kind < 0.24:
        digits = "".join(str(int(d)) for d in rng.integers(0, 10, int(rng.integers(8, 12))))
        cut = int(rng.integers(3, 5))
        text = (
            digits
            if rng.random() < 0.5
            else digits[:cut] + ("-", " ", "/")[int(rng.integers(3))] + digits[cut:]
        )
    elif kind < 0.36:
        text = MODELS[int(rng.integers(len(MODELS)))]
    elif kind < 0.55:
        day, month, year = int(rng.integers(1, 29)), int(rng.integers(1, 13)), int(rng.integers(2005, 2030))
        sep = "/.-"[int(rng.integers(3))]
        text = (
            f"{day:02d}{sep}{month:02d}{sep}{year}"
            if rng.random() < 0.5
            else f"{year}{sep}{month:02d}{sep}{day:02d}"
        )
    else:
        text = WORDS[int(rng.integers(len(WORDS)))]
    h = 100
    font = _font(rng, int(0.7 * h))
    probe = ImageDraw.Draw(Image.new("RGB", (8, 8)))
    box = probe.textbbox((0, 0), text, font=font)
    w = int(box[2] - box[0] + rng.uniform(0.1, 0.6) * h)
    light = rng.random() < 0.5
    bg = (
        tuple(int(v) for v in rng.integers(180, 256, 3))
        if light
        else tuple(int(v) for v in rng.integers(0, 90, 3))
    )
    ink = (
        tuple(int(v) for v in rng.integers(0, 70, 3))
        if light
        else tuple(int(v) for v in rng.integers(190, 256, 3))
    )
    img = Image.new("RGB", (w, h), bg)
    x, y = (w - box[2] - box[0]) / 2, (h - box[3] - box[1]) / 2
    ImageDraw.Draw(img).text((x, y), text, fill=ink, font=font)
    drawn: Drawn = [((x + box[0], y + box[1], x + box[2], y + box[3]), text, 0)]
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR), drawn


def _paste(
    scene: np.ndarray, panel: np.ndarray, height: int, rng: np.random.Generator, taken: list
) -> tuple | None:
    ph, pw = panel.shape[:2]
    width = int(pw * height / ph)
    sh, sw = scene.shape[:2]
    if width >= sw - 4 or height >= sh - 4:
        return None
    for _ in range(10):
        x, y = int(rng.integers(2, sw - width - 2)), int(rng.integers(2, sh - height - 2))
        box = (x, y, x + width, y + height)
        grown = [(a - 3 * height, b - 3 * height, c + 3 * height, d + 3 * height) for a, b, c, d in taken]
        if all(box[2] < a or box[0] > c or box[3] < b or box[1] > d for a, b, c, d in grown):
            break
    else:
        return None
    small = cv2.resize(panel, (width, height), interpolation=cv2.INTER_AREA)
    alpha = rng.uniform(0.8, 1.0)
    roi = scene[y : y + height, x : x + width]
    scene[y : y + height, x : x + width] = (alpha * small + (1 - alpha) * roi).astype(np.uint8)
    taken.append(box)
    return box


def synthesise(background: np.ndarray, seed: int) -> Pasted:
    """``background`` (BGR, not changed) with one or two plates and one or two signs pasted."""
    rng = np.random.default_rng(seed)
    scene = background.copy()
    taken: list = []
    plates, signs, lines = [], [], []
    wanted = [("plate", int(rng.integers(18, 90))) for _ in range(int(rng.integers(1, 3)))]
    wanted += [("sign", int(rng.integers(12, 60))) for _ in range(int(rng.integers(1, 3)))]
    for what, height in wanted:
        panel, drawn = render_plate(rng) if what == "plate" else render_sign(rng)
        box = _paste(scene, panel, height, rng, taken)
        if not box:
            continue
        (plates if what == "plate" else signs).append(tuple(float(v) for v in box))
        scale = height / panel.shape[0]
        for (x0, y0, x1, y1), text, label in drawn:
            lines.append(
                (
                    (box[0] + x0 * scale, box[1] + y0 * scale, box[0] + x1 * scale, box[1] + y1 * scale),
                    text,
                    label,
                )
            )
    if rng.random() < 0.3:
        scene = cv2.GaussianBlur(scene, (0, 0), rng.uniform(0.5, 1.2))
    return Pasted(scene, plates, signs, lines)
