"""Settings: read once, typed, checked at start.

Sources, highest priority first: process environment, ``.env`` in the working directory, then an
optional TOML file (``ISSC_CONFIG``, default ``issc.toml``). Keys are the upper-case environment
names (``CAMERAS``, ``API_KEY`` ...) in ``.env`` and the environment, and the same names in any
case in the TOML file. Nothing else in the package reads ``os.environ``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from issc.errors import ConfigError

SourceKind = Literal["device", "file", "url", "demo", "webcam"]
_NAME_RE = re.compile(r"^(?P<name>[A-Za-z][\w\- ]{0,39})=(?P<source>.+)$")
_URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")
DEFAULT_CONFIG_FILE = "issc.toml"


@dataclass(frozen=True)
class CameraConfig:
    """One camera as configured: ``id`` is its position in ``CAMERAS``."""

    id: str
    name: str
    kind: SourceKind
    source: str  # device index, path, URL or "demo"

    @property
    def display_source(self) -> str:
        """The source with any credentials removed: safe to show and log."""
        return redact_url(self.source) if self.kind == "url" else self.source


def redact_url(url: str) -> str:
    """Remove ``user:password@`` and secret-looking query values from a URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = re.sub(r"(?i)((?:api_?key|token|password|pass|pwd|secret)=)[^&]*", r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def parse_cameras(value: str) -> list[CameraConfig]:
    """Parse ``CAMERAS``: comma-separated sources, each optionally ``name=source``.

    Raises:
        ValueError: with a sentence saying which entry is wrong and what was expected.
    """
    cameras: list[CameraConfig] = []
    entries = [e.strip() for e in value.split(",") if e.strip()]
    for index, entry in enumerate(entries):
        name = None
        source = entry
        match = _NAME_RE.match(entry)
        if match and not entry.lower().startswith(_URL_SCHEMES):
            name, source = match["name"].strip(), match["source"].strip()
        lowered = source.lower()
        if lowered == "demo":
            kind: SourceKind = "demo"
        elif source.isdigit():
            kind = "device"
        elif lowered.startswith(_URL_SCHEMES):
            kind = "url"
            if not urlsplit(source).hostname:
                raise ValueError(f"entry {index + 1} ({redact_url(source)!r}) is a URL without a host")
        elif "://" in source:
            raise ValueError(
                f"entry {index + 1} ({redact_url(source)!r}) has an unsupported scheme; expected "
                "rtsp://, http(s)://, a device index, a video file path or 'demo'"
            )
        else:
            kind = "file"
            if not Path(source).expanduser().is_file():
                raise ValueError(f"entry {index + 1}: video file {source!r} does not exist")
            source = str(Path(source).expanduser())
        default_name = {"demo": "demo", "device": f"device {source}"}.get(kind) or _short_name(source)
        cameras.append(CameraConfig(id=str(index), name=name or default_name, kind=kind, source=source))
    names = [c.name for c in cameras]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        # Keep names unique so history and filters stay unambiguous.
        seen: dict[str, int] = {}
        renamed = []
        for cam in cameras:
            if cam.name in duplicates:
                seen[cam.name] = seen.get(cam.name, 0) + 1
                cam = CameraConfig(cam.id, f"{cam.name} #{seen[cam.name]}", cam.kind, cam.source)
            renamed.append(cam)
        cameras = renamed
    return cameras


def _short_name(source: str) -> str:
    if "://" in source:
        host = urlsplit(source).hostname or "camera"
        return host
    return Path(source).stem[:40] or "camera"


class Settings(BaseSettings):
    """Every setting of ISSC, with its default. See the README's configuration table."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        case_sensitive=False,
        validate_default=True,
    )

    # --- cameras -------------------------------------------------------------------------
    cameras: Annotated[list[CameraConfig], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated camera sources: device index, file path, rtsp/http URL or 'demo', "
        "each optionally 'name=source'. Empty: one demo camera.",
    )
    reconnect_max_s: float = Field(30.0, ge=1, le=600, description="Cap of the reconnect backoff.")
    stale_after_s: float = Field(2.0, ge=0.5, le=60, description="No frame for this long: NO SIGNAL.")
    jpeg_quality: int = Field(80, ge=30, le=100, description="JPEG quality of the live stream.")

    # --- detection -----------------------------------------------------------------------
    detector: Literal["auto", "local", "roboflow", "onnx", "none"] = Field(
        "auto", description="auto: roboflow when API_KEY and a model are set, else local."
    )
    api_key: SecretStr | None = Field(None, description="Roboflow API key (never shown).")
    api_url: str = Field("https://detect.roboflow.com", description="Roboflow hosted or self-hosted server.")
    human_model: str | None = Field(None, description="Roboflow person model id, e.g. issc-human-detection/1")
    plate_model: str | None = Field(
        None, description="Roboflow plate model id, e.g. issc-plate-recognition/1"
    )
    detector_timeout_s: float = Field(5.0, gt=0, le=60, description="HTTP timeout of a detector call.")
    onnx_model: Path | None = Field(None, description="YOLO ONNX file for DETECTOR=onnx.")
    onnx_classes: str = Field("person,plate", description="Class names of the ONNX model, in order.")
    person_conf: float = Field(0.5, ge=0, le=1, description="Minimum person confidence.")
    plate_conf: float = Field(0.3, ge=0, le=1, description="Minimum plate confidence.")
    iou: float = Field(0.5, ge=0, le=1, description="IoU for non-maximum suppression and tracking.")
    detect_fps: float = Field(5.0, gt=0, le=60, description="Most detections per second per camera.")
    detect_workers: int = Field(2, ge=1, le=32, description="Detections running at once, all cameras.")
    motion_gating: bool = Field(True, description="Skip detection while the scene is static.")
    motion_threshold: float = Field(0.002, ge=0, le=1, description="Changed-pixel fraction that is motion.")

    # --- plate reading -------------------------------------------------------------------
    ocr_engine: Literal["rapidocr", "easyocr"] = Field("rapidocr", description="Plate OCR engine.")
    ocr_preprocess: Literal["none", "prototype"] = Field(
        "none", description="prototype: grey + fastNlMeansDenoising, as the old prototype."
    )
    ocr_min_conf: float = Field(0.1, ge=0, le=1, description="Reads below this confidence are ignored.")
    plate_formats: str = Field(
        "",
        description="Comma-separated plate layouts as masks (A letter, 9 digit, * either); empty: "
        "PLATE_REGION's layouts.",
    )
    plate_region: Literal["mixed", "eu", "uk", "br", "us", "sk", "fr", "it", "es", "cz", "de"] = Field(
        "mixed",
        description="Region preset (issc.plates.regions): plate layouts, look-alike swaps and the O/0 "
        "policy; mixed: BR, Mercosul, UK and EU layouts. The PLATE_ settings below override its parts.",
    )
    plate_letter_to_digit: str | None = Field(
        None,
        description="Look-alike swaps where a layout wants a digit (letter+digit pairs); unset: "
        "PLATE_REGION's (O0,Q0,D0,I1,L1,Z2,S5,B8,G6).",
    )
    plate_digit_to_letter: str | None = Field(
        None,
        description="Look-alike swaps where a layout wants a letter (digit+letter pairs); unset: "
        "PLATE_REGION's (0O,1I,2Z,5S,6G,8B).",
    )
    plate_o_is_zero: bool | None = Field(
        None,
        description="Read every O as 0 (plates that never use the letter O); unset: PLATE_REGION's "
        "(true for us).",
    )
    plate_detect_short_side: int = Field(
        288,
        ge=240,
        le=2160,
        description="Live frames are scaled down (never up) to this short side before plates are searched "
        "(candidates are then read at full resolution); raise it for distant, small plates.",
    )
    plate_recognition_threshold: float = Field(
        0.9,
        ge=0,
        le=1,
        description="One plate read at least this confident makes an event (else two agreeing reads).",
    )
    plate_dedupe_s: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="The same plate on the same camera within this many seconds is one pass.",
    )

    # --- history, alerts, webcam ---------------------------------------------------------
    database_url: str = Field("sqlite:///data/issc.db", description="SQLAlchemy URL of the history store.")
    webhook_url: str | None = Field(None, description="POST watchlist hits here as JSON.")
    ice_servers: str = Field("", description="Comma-separated STUN/TURN URLs for the webcam page.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")

    @field_validator("cameras", mode="before")
    @classmethod
    def _parse_cameras(cls, value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = ",".join(value)
        if value is None or isinstance(value, str):
            cams = parse_cameras(value or "")
            return cams or [CameraConfig(id="0", name="demo", kind="demo", source="demo")]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("plate_region", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("plate_formats")
    @classmethod
    def _check_masks(cls, value: str) -> str:
        for mask in filter(None, (m.strip().upper() for m in value.split(","))):
            if set(mask) - set("A9*"):
                raise ValueError(
                    f"{mask!r} is not a plate mask: use A for a letter, 9 for a digit, * for either"
                )
        return value

    @field_validator("plate_letter_to_digit", "plate_digit_to_letter")
    @classmethod
    def _check_pairs(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        want = ("letter", "digit") if info.field_name == "plate_letter_to_digit" else ("digit", "letter")
        for pair in filter(None, (p.strip().upper() for p in value.split(","))):
            ok = len(pair) == 2 and (pair[0].isalpha(), pair[1].isdigit()) == (
                want[0] == "letter",
                want[1] == "digit",
            )
            if not ok or not pair.isalnum():
                raise ValueError(
                    f"{pair!r} is not a {want[0]}+{want[1]} pair such as {'O0' if want[0] == 'letter' else '0O'}"
                )
        return value

    @field_validator("api_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_detector(self) -> Settings:
        if self.detector == "roboflow":
            if self.api_key is None and "roboflow.com" in self.api_url:
                raise ValueError("DETECTOR=roboflow with the hosted API needs API_KEY")
            if not (self.human_model or self.plate_model):
                raise ValueError("DETECTOR=roboflow needs HUMAN_MODEL or PLATE_MODEL")
        if self.detector == "onnx" and self.onnx_model is None:
            raise ValueError("DETECTOR=onnx needs ONNX_MODEL (path to a YOLO .onnx file)")
        return self

    @property
    def detector_kind(self) -> str:
        """The detector actually used (``auto`` resolved)."""
        if self.detector != "auto":
            return self.detector
        if self.api_key is not None and (self.human_model or self.plate_model):
            return "roboflow"
        return "local"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("ISSC_CONFIG", DEFAULT_CONFIG_FILE))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        if toml_path.is_file():
            sources.append(_LowerKeysToml(settings_cls, toml_file=toml_path))
        return tuple(sources)


class _LowerKeysToml(TomlConfigSettingsSource):
    """TOML source that accepts ``CAMERAS`` and ``cameras`` alike."""

    def __call__(self) -> dict[str, Any]:
        return {k.lower(): v for k, v in super().__call__().items()}


def _describe(error: dict[str, Any]) -> str:
    key = str(error["loc"][0]).upper() if error.get("loc") else "configuration"
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"{key} is not a known setting; see the README's configuration table for valid keys."
    value = error.get("input")
    if key == "API_KEY":
        shown = "<hidden>"
    elif isinstance(value, str):
        shown = repr(redact_url(value) if "://" in value else value)
    elif isinstance(value, dict) or error["loc"] == ():
        shown = ""
    else:
        shown = repr(value)
    if not error.get("loc"):
        return f"Invalid configuration: {message}."
    return f"{key}={shown} is invalid: {message}." if shown else f"{key} is invalid: {message}."


def load_settings(**overrides: Any) -> Settings:
    """Read and check the settings once.

    Raises:
        ConfigError: one sentence per wrong key, naming the key, the value and what was expected.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(" ".join(_describe(e) for e in exc.errors())) from None
