"""Settings: one section per concern, read once, typed, checked at start.

Sources, highest priority first: process environment, ``.env`` in the working directory, then an
optional TOML file (``ISSC_CONFIG``, default ``issc.toml``). Keys are the upper-case environment
names (``CAMERAS``, ``API_KEY`` ...) in ``.env`` and the environment, and the same names in any
case in the TOML file. Nothing else in the package reads ``os.environ``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from issc import redact
from issc.config.analytics import AnalyticsSettings
from issc.config.auth import AuthSettings, is_loopback
from issc.config.cameras import CAMERA_NAME_RE, CameraConfig, SourceKind, classify_source, parse_cameras
from issc.config.cluster import ClusterSettings
from issc.config.store import StoreSettings
from issc.errors import ConfigError
from issc.redact import redact_url
from issc.tuning import Tuning

DEFAULT_CONFIG_FILE = "issc.toml"


class _Section(BaseModel):
    """A group of settings for one concern; field names are the settings' keys in lower case."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class CameraSettings(_Section):
    """Which cameras run and how their capture behaves."""

    cameras: Annotated[list[CameraConfig], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated camera sources: device index, file path, rtsp/http URL or 'demo', "
        "each optionally 'name=source'. Empty: one demo camera.",
    )
    reconnect_max_s: float = Field(30.0, ge=1, le=600, description="Cap of the reconnect backoff.")
    stale_after_s: float = Field(2.0, ge=0.5, le=60, description="No frame for this long: NO SIGNAL.")
    clips: str = Field(
        "",
        description="Cameras that save an MP4 clip around each plate event: comma-separated camera names, "
        "'*' for all, empty for none (issc.engine.clips).",
    )
    clip_pre_s: float = Field(
        5.0, ge=0, le=30, description="Seconds of a clip before the plate was last seen."
    )
    clip_post_s: float = Field(
        5.0, ge=0, le=30, description="Seconds of a clip after the plate was last seen."
    )
    clip_fps: float = Field(10.0, ge=1, le=30, description="Frames per second encoded into clips.")
    clip_width: int = Field(
        960, ge=160, le=3840, description="Widest clip in pixels (larger frames are scaled)."
    )

    def clips_on(self, camera_name: str) -> bool:
        """Whether ``CLIPS`` names this camera (or is ``*``)."""
        names = {n.strip() for n in self.clips.split(",") if n.strip()}
        return "*" in names or camera_name in names

    @field_validator("cameras", mode="before")
    @classmethod
    def _parse_cameras(cls, value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = ",".join(value)
        if value is None or isinstance(value, str):
            cams = parse_cameras(value or "")
            return cams or [CameraConfig(id="0", name="demo", kind="demo", source="demo")]
        return value


class DetectionSettings(_Section):
    """Which detector finds people and plates, and how often it runs."""

    detector: Literal["auto", "local", "roboflow", "onnx", "none"] = Field(
        "auto", description="auto: roboflow when API_KEY and a model are set, else local."
    )
    api_key: SecretStr | None = Field(None, description="Roboflow API key (never shown).")
    api_url: str = Field("https://detect.roboflow.com", description="Roboflow server(s), comma-separated.")
    human_model: str | None = Field(None, description="Roboflow person model id, e.g. issc-human-detection/1")
    plate_model: str | None = Field(
        None, description="Roboflow plate model id, e.g. issc-plate-recognition/1"
    )
    detector_timeout_s: float = Field(5.0, gt=0, le=60, description="HTTP timeout of a detector call.")
    onnx_model: Path | None = Field(None, description="YOLO ONNX file for DETECTOR=onnx.")
    onnx_classes: str = Field("person,plate", description="Class names of the ONNX model, in order.")
    detect_fps: float = Field(5.0, gt=0, le=60, description="Most detections per second per camera.")
    detect_workers: int = Field(2, ge=1, le=32, description="Detections running at once, all cameras.")
    motion_gating: bool = Field(True, description="Skip detection while the scene is static.")

    @field_validator("api_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",")]
        for number, item in enumerate(items, 1):
            where = f"item {number} of {len(items)}" if len(items) > 1 else ""
            if not item.startswith(("http://", "https://")):
                what = "is empty" if not item else f"{item!r} is not an http:// or https:// URL"
                raise ValueError(
                    f"{where} {what}: expected comma-separated http(s) server URLs"
                    if where
                    else "expected an http:// or https:// URL"
                )
        return ",".join(item.rstrip("/") for item in items)

    @model_validator(mode="after")
    def _check_detector(self) -> DetectionSettings:
        if self.detector == "roboflow":
            if self.api_key is None and "roboflow.com" in self.api_url:
                raise ValueError("DETECTOR=roboflow with the hosted API needs API_KEY")
            if not (self.human_model or self.plate_model):
                raise ValueError("DETECTOR=roboflow needs HUMAN_MODEL or PLATE_MODEL")
        if self.detector == "onnx" and self.onnx_model is None:
            raise ValueError("DETECTOR=onnx needs ONNX_MODEL (path to a YOLO .onnx file)")
        return self

    @property
    def kind(self) -> str:
        """The detector actually used (``auto`` resolved)."""
        if self.detector != "auto":
            return self.detector
        if self.api_key is not None and (self.human_model or self.plate_model):
            return "roboflow"
        return "local"

    def identity(self) -> str:
        """What identifies the configured detector, without secrets (a cache key)."""
        keys = (
            self.kind,
            self.api_url,
            self.human_model,
            self.plate_model,
            self.onnx_model,
            self.onnx_classes,
        )
        return "|".join(map(str, keys))


class PlateSettings(_Section):
    """How plate text is searched, read and turned into one event per pass."""

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
    plate_dedupe_s: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="The same plate on the same camera within this many seconds is one pass.",
    )

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

    def formats(self) -> list[str]:
        """``PLATE_FORMATS`` as upper-case masks (empty: the region's layouts)."""
        return [m.strip().upper() for m in self.plate_formats.split(",") if m.strip()]

    def letter_to_digit(self) -> dict[str, str] | None:
        """``PLATE_LETTER_TO_DIGIT`` as a mapping (None: the region's)."""
        return _pairs(self.plate_letter_to_digit)

    def digit_to_letter(self) -> dict[str, str] | None:
        """``PLATE_DIGIT_TO_LETTER`` as a mapping (None: the region's)."""
        return _pairs(self.plate_digit_to_letter)


def _pairs(value: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {p[0]: p[1] for p in (q.strip().upper() for q in value.split(",")) if len(p) == 2}


class WebSettings(_Section):
    """What the dashboard's server and pages serve."""

    jpeg_quality: int = Field(80, ge=30, le=100, description="JPEG quality of the live stream.")
    max_viewers: int = Field(
        16,
        ge=1,
        le=1000,
        description="Live streams (MJPEG viewers) served at once per process; more get 503.",
    )
    max_viewers_per_user: int = Field(
        8, ge=1, le=1000, description="Live streams one signed-in user may hold at once; more get 429."
    )
    ice_servers: str = Field("", description="Comma-separated STUN/TURN URLs for the webcam page.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


SECTIONS: dict[str, type[BaseModel]] = {
    "cameras": CameraSettings,
    "detection": DetectionSettings,
    "plates": PlateSettings,
    "tuning": Tuning,
    "store": StoreSettings,
    "web": WebSettings,
    "auth": AuthSettings,
    "cluster": ClusterSettings,
    "analytics": AnalyticsSettings,
}


def _env_name(field: str, info: FieldInfo) -> str:
    return (info.alias or field).lower()


#: Every setting's key (lower case) -> (section, field). Keys are unique across sections.
KEYS: dict[str, tuple[str, str]] = {
    _env_name(field, info): (section, field)
    for section, model in SECTIONS.items()
    for field, info in model.model_fields.items()
}


class Settings(BaseSettings):
    """Every setting of ISSC, one section per concern. See the README's configuration table.

    The keys stay flat (``PLATE_CONF``, ``CAMERAS``): each source's flat keys are sorted into their
    sections before validation, so every default and bound is declared once, in its section.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        case_sensitive=False,
        frozen=True,
    )

    cameras: CameraSettings = Field(default_factory=CameraSettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    plates: PlateSettings = Field(default_factory=PlateSettings)
    tuning: Tuning = Field(default_factory=Tuning)
    store: StoreSettings = Field(default_factory=StoreSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)

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
        env_file = settings_cls.model_config.get("env_file")
        sources: list[PydanticBaseSettingsSource] = [
            _Sectioned(settings_cls, lambda: init_settings(), strict=True),
            _Sectioned(settings_cls, lambda: {k: v for k, v in os.environ.items() if k.lower() in KEYS}),
            _Sectioned(settings_cls, lambda: _dotenv(env_file), strict=True),
        ]
        if toml_path.is_file():
            toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_path)
            sources.append(_Sectioned(settings_cls, toml, strict=True))
        return tuple(sources)


def _dotenv(path: Any) -> dict[str, Any]:
    if not path or not Path(path).is_file():
        return {}
    return {k: v for k, v in dotenv_values(path, encoding="utf-8").items() if v is not None}


class _Sectioned(PydanticBaseSettingsSource):
    """Sorts one source's flat keys into sections; with ``strict``, unknown keys stay (and fail)."""

    def __init__(self, settings_cls: type[BaseSettings], read: Any, strict: bool = False) -> None:
        super().__init__(settings_cls)
        self._read = read
        self._strict = strict

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns the whole mapping

    def __call__(self) -> dict[str, Any]:
        nested: dict[str, Any] = {}
        for key, value in self._read().items():
            lowered = key.lower()
            if lowered in SECTIONS and isinstance(value, (dict, BaseModel)):
                nested[lowered] = value  # a whole section, as tests and tools pass it
            elif lowered in KEYS:
                section, field = KEYS[lowered]
                nested.setdefault(section, {})[field] = value
            elif self._strict:
                nested[key] = value  # extra="forbid" names it
        return nested


def _describe(error: dict[str, Any]) -> str:
    loc = error.get("loc") or ()
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"{str(loc[-1]).upper()} is not a known setting; see the README's configuration table for valid keys."
    if len(loc) < 2:  # a whole section failed a cross-field check
        return f"Invalid configuration: {message}."
    section, field = str(loc[0]), str(loc[1])
    info = SECTIONS[section].model_fields.get(field) if section in SECTIONS else None
    key = _env_name(field, info).upper() if info is not None else field.upper()
    value = error.get("input")
    if key in ("API_KEY", "WEBHOOK_SECRET"):
        shown = "<hidden>"
    elif isinstance(value, str):
        shown = repr(redact.redact(value[:200] + "…" if len(value) > 200 else value))
    elif isinstance(value, dict):
        shown = ""
    else:
        shown = repr(value)
    sentence = f"{key}={shown} is invalid: {message}." if shown else f"{key} is invalid: {message}."
    return redact.redact(sentence)


def _register_secrets(settings: Settings | None, errors: tuple[Any, ...] | list[Any] = ()) -> None:
    """Tell :mod:`issc.redact` the literal secrets of these settings (or of the values that failed)."""
    if settings is not None:
        key = settings.detection.api_key
        redact.register(key.get_secret_value() if key is not None else None)
        for camera in settings.cameras.cameras:
            if camera.kind == "url":
                redact.register_url(camera.source)
        redact.register_url(settings.store.database_url)
        redact.register_url(settings.detection.api_url)
        redact.register_webhook(settings.store.webhook_url)
        hook_key = settings.store.webhook_secret
        redact.register(hook_key.get_secret_value() if hook_key is not None else None)
        secret = settings.auth.auth_secret
        redact.register(secret.get_secret_value() if secret is not None else None)
    for error in errors:
        value = error.get("input")
        if not isinstance(value, str):
            continue
        if {"api_key", "webhook_secret"} & set(map(str, error.get("loc") or ())):
            redact.register(value)
        else:
            redact.register_url(value)


def load_settings(**overrides: Any) -> Settings:
    """Read and check the settings once (flat keys as overrides, e.g. ``cameras="demo"``).

    Raises:
        ConfigError: one sentence per wrong key, naming the key, the value and what was expected.
    """
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        _register_secrets(None, exc.errors())
        raise ConfigError(" ".join(_describe(e) for e in exc.errors())) from None
    _register_secrets(settings)
    return settings


__all__ = [
    "CAMERA_NAME_RE",
    "KEYS",
    "SECTIONS",
    "AuthSettings",
    "CameraConfig",
    "CameraSettings",
    "DetectionSettings",
    "PlateSettings",
    "Settings",
    "SourceKind",
    "StoreSettings",
    "WebSettings",
    "classify_source",
    "is_loopback",
    "load_settings",
    "parse_cameras",
    "redact_url",
]
