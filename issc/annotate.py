"""Pictures for people: detections drawn on live frames (supervision annotators), the NO SIGNAL
frame, and the one JPEG encoder (live stream, plate crops and snapshots)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import supervision as sv

from issc.detections import OPACITY_KEY, PLATE
from issc.redact import redact

_PALETTE = sv.ColorPalette.from_hex(["#2ecc71", "#ffb000"])  # person: green, plate: amber
_TEXT_SCALE = 0.5
_TEXT_PADDING = 4
_OPAQUE = 0.99  # boxes at least this opaque are drawn as they are
_MIN_OPACITY = 0.02  # boxes fainter than this are not drawn
_SHAPE_COLOR = (255, 200, 0)  # counting lines and zones: light blue (BGR)
_SHAPE_OPACITY = 0.45


def draw_shapes(out: np.ndarray, shapes: Sequence[Any]) -> None:
    """Draw counting lines and zones faintly into ``out`` (in place).

    Each shape has ``name``, ``kind`` (``"zone"`` closed, ``"line"`` open) and ``points`` in the
    frame's pixels (``issc.analytics.Shape``); only the region around them is blended.
    """
    if not shapes:
        return
    h, w = out.shape[:2]
    polys = [np.round(np.asarray(s.points, dtype=np.float64)).astype(np.int32) for s in shapes]
    allpts = np.concatenate(polys)
    left, top = max(int(allpts[:, 0].min()) - 4, 0), max(int(allpts[:, 1].min()) - 20, 0)
    right, bottom = min(int(allpts[:, 0].max()) + 80, w), min(int(allpts[:, 1].max()) + 4, h)
    if right <= left or bottom <= top:
        return
    under = out[top:bottom, left:right]
    drawn = under.copy()
    for shape, pts in zip(shapes, polys, strict=True):
        pts = pts - np.array([left, top], dtype=np.int32)
        cv2.polylines(drawn, [pts], shape.kind == "zone", _SHAPE_COLOR, 2, cv2.LINE_AA)
        x, y = int(pts[0][0]), int(pts[0][1])
        label = shape.name if shape.kind == "zone" else f"{shape.name} (in: {getattr(shape, 'in_side', '')})"
        cv2.putText(
            drawn,
            label,
            (x + 3, max(y - 5, 12)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            _SHAPE_COLOR,
            1,
            cv2.LINE_AA,
        )
    under[:] = cv2.addWeighted(drawn, _SHAPE_OPACITY, under, 1.0 - _SHAPE_OPACITY, 0.0)


class FrameAnnotator:
    """Draws boxes and labels (``person 0.87``, ``plate LS15EBC 0.93``) on a copy of the scene.

    Detections with ``data["opacity"]`` below 1 (stale boxes fading out, see ``issc.overlay``) are
    blended with the picture under them, box by box in a small region around box and label.
    """

    def __init__(self) -> None:
        self.shapes: Sequence[Any] = ()  # counting lines and zones drawn faintly under the boxes
        self._boxes = sv.BoxAnnotator(color=_PALETTE, color_lookup=sv.ColorLookup.CLASS, thickness=2)
        self._labels = sv.LabelAnnotator(
            color=_PALETTE,
            color_lookup=sv.ColorLookup.CLASS,
            text_color=sv.Color.BLACK,
            text_scale=_TEXT_SCALE,
            text_padding=_TEXT_PADDING,
        )

    def annotate(self, scene: np.ndarray, detections: sv.Detections) -> np.ndarray:
        """Return an annotated copy of ``scene``; ``scene`` itself is never changed."""
        out = scene.copy()
        draw_shapes(out, self.shapes)
        if len(detections) == 0:
            return out
        # Boxes from an older frame may lie partly outside a resized frame: clip them.
        h, w = out.shape[:2]
        detections = detections[(detections.xyxy[:, 0] < w) & (detections.xyxy[:, 1] < h)]
        if len(detections) == 0:
            return out
        opacity = detections.data.get(OPACITY_KEY)
        if opacity is None:
            return self._draw(out, detections)
        opacity = np.asarray(opacity, dtype=np.float32)
        # Fading boxes first, faintest first, so that clearer boxes are drawn over them.
        for i in np.argsort(opacity):
            if _MIN_OPACITY < opacity[i] < _OPAQUE:
                self._blend(out, detections[int(i) : int(i) + 1], float(opacity[i]))
        opaque = detections[opacity >= _OPAQUE]
        return self._draw(out, opaque) if len(opaque) else out

    def _draw(self, out: np.ndarray, detections: sv.Detections) -> np.ndarray:
        out = self._boxes.annotate(out, detections)
        return self._labels.annotate(out, detections, labels=labels_for(detections))

    def _blend(self, out: np.ndarray, one: sv.Detections, opacity: float) -> None:
        """Draw one box at ``opacity`` into ``out``, touching only the region around it."""
        h, w = out.shape[:2]
        label = labels_for(one)[0]
        (text_w, text_h), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, _TEXT_SCALE, 1)
        x0, y0, x1, y1 = one.xyxy[0]
        margin = 4
        left = max(int(x0) - margin, 0)
        top = max(int(y0) - text_h - 2 * _TEXT_PADDING - margin, 0)
        right = min(max(int(x1), int(x0) + text_w + 2 * _TEXT_PADDING) + margin, w)
        bottom = min(int(y1) + margin, h)
        if right <= left or bottom <= top:
            return
        under = out[top:bottom, left:right]
        shifted = one[:]
        shifted.xyxy = one.xyxy - np.array([left, top, left, top], dtype=one.xyxy.dtype)
        drawn = self._draw(under.copy(), shifted)
        under[:] = cv2.addWeighted(drawn, opacity, under, 1.0 - opacity, 0.0)


def labels_for(detections: sv.Detections) -> list[str]:
    """``person 0.87`` / ``plate LS15EBC 0.93`` (plate text once it is known)."""
    names = detections.data.get("class_name")
    texts = detections.data.get("plate_text")
    labels = []
    for i in range(len(detections)):
        name = (
            str(names[i]) if names is not None else ("plate" if detections.class_id[i] == PLATE else "person")
        )
        conf = detections.confidence[i] if detections.confidence is not None else None
        conf = None if conf is not None and np.isnan(conf) else conf
        text = str(texts[i]) if texts is not None and texts[i] else ""
        parts = [name] + ([text] if text else []) + ([f"{conf:.2f}"] if conf is not None else [])
        labels.append(" ".join(parts))
    return labels


@functools.lru_cache(maxsize=8)
def _no_signal_base(width: int, height: int) -> np.ndarray:
    """The prototype's NO SIGNAL picture: purple gradient, red circle with '!', white NO SIGNAL."""
    top = np.array([92, 28, 75], np.float32)  # BGR, deep purple
    bottom = np.array([180, 70, 150], np.float32)  # lighter violet
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    column = (top[None, :] * (1 - ramp) + bottom[None, :] * ramp).astype(np.uint8)
    img = np.repeat(column[:, None, :], width, axis=1)
    scale = max(min(width, height) / 360.0, 0.35)
    cx, cy = width // 2, int(height * 0.38)
    radius = int(42 * scale)
    cv2.circle(img, (cx, cy), radius, (40, 40, 230), -1, cv2.LINE_AA)
    _centered_text(img, "!", (cx, cy), 2.2 * scale, max(int(6 * scale), 2))
    _centered_text(img, "NO SIGNAL", (cx, int(height * 0.62)), 1.4 * scale, max(int(3 * scale), 1))
    img.flags.writeable = False
    return img


def _centered_text(
    img: np.ndarray,
    text: str,
    center: tuple[int, int],
    scale: float,
    thickness: int,
    color: tuple[int, int, int] = (255, 255, 255),
) -> None:
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    org = (int(center[0] - tw / 2), int(center[1] + th / 2))
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, thickness, cv2.LINE_AA)


def no_signal_frame(
    width: int = 640,
    height: int = 360,
    camera_name: str = "",
    down_for_s: float | None = None,
    reason: str | None = None,
) -> np.ndarray:
    """NO SIGNAL with the camera's name and how long it has been down."""
    img = _no_signal_base(width, height).copy()
    scale = max(min(width, height) / 360.0, 0.35)
    lines = [camera_name] if camera_name else []
    if down_for_s is not None:
        lines.append(f"down for {format_duration(down_for_s)}")
    y = int(height * 0.74)
    for line in lines:
        _centered_text(img, line, (width // 2, y), 0.6 * scale, 1)
        y += int(26 * scale)
    if reason:
        reason = redact(reason)
        _centered_text(
            img,
            reason if len(reason) <= 60 else reason[:57] + "...",
            (width // 2, y),
            0.42 * scale,
            1,
            (225, 225, 225),
        )
    return img


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
