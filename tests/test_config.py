"""Settings: CAMERAS parsing, defaults, one-sentence errors, file + environment precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from issc.config import load_settings, parse_cameras, redact_url
from issc.errors import ConfigError


def test_no_configuration_gives_one_demo_camera() -> None:
    settings = load_settings()
    assert [(c.id, c.name, c.kind) for c in settings.cameras.cameras] == [("0", "demo", "demo")]
    assert settings.detection.kind == "local"


def test_cameras_list_with_names_urls_devices_and_files(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    cams = parse_cameras(
        f"gate=rtsp://user:secret@10.0.0.5/s1,lobby=0,{clip},http://cam.local/video.mjpg,demo"
    )
    assert [(c.id, c.name, c.kind) for c in cams] == [
        ("0", "gate", "url"),
        ("1", "lobby", "device"),
        ("2", "clip", "file"),
        ("3", "cam.local", "url"),
        ("4", "demo", "demo"),
    ]
    assert cams[0].source == "rtsp://user:secret@10.0.0.5/s1"
    assert cams[0].display_source == "rtsp://***@10.0.0.5/s1"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:pw@1.2.3.4:554/live", "rtsp://***@1.2.3.4:554/live"),
        ("http://cam/x?user=a&password=b", "http://cam/x?user=a&password=***"),
        ("https://detect.roboflow.com/m/1?api_key=abc", "https://detect.roboflow.com/m/1?api_key=***"),
        ("rtsp://1.2.3.4/live", "rtsp://1.2.3.4/live"),
    ],
)
def test_redact_url_hides_credentials(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("env", "expected_words"),
    [
        ({"CAMERAS": "ftp://host/x"}, ["CAMERAS", "ftp://host/x", "unsupported scheme"]),
        ({"CAMERAS": "/no/such/clip.mp4"}, ["CAMERAS", "/no/such/clip.mp4", "does not exist"]),
        ({"PERSON_CONF": "1.5"}, ["PERSON_CONF", "1.5", "less than or equal to 1"]),
        ({"DETECTOR": "yolo"}, ["DETECTOR", "yolo", "'local'"]),
        ({"DETECT_FPS": "fast"}, ["DETECT_FPS", "fast", "number"]),
        ({"DETECTOR": "onnx"}, ["ONNX_MODEL"]),
        ({"PLATE_FORMATS": "[A-Z"}, ["PLATE_FORMATS", "not a plate mask"]),
    ],
)
def test_bad_value_is_one_sentence_naming_key_value_and_expectation(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected_words: list[str]
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    for word in expected_words:
        assert word in message
    assert "Traceback" not in message and "\n" not in message


def test_api_key_never_appears_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", "sk-very-secret")
    monkeypatch.setenv("DETECTOR", "roboflow")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "sk-very-secret" not in str(info.value)
    monkeypatch.setenv("HUMAN_MODEL", "issc-human-detection/1")
    settings = load_settings()
    assert settings.detection.kind == "roboflow"
    assert "sk-very-secret" not in repr(settings) and "sk-very-secret" not in str(settings)


def test_unknown_key_in_dotenv_is_named(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("API_KEY=abc\nCAMRAS=0\n")
    with pytest.raises(ConfigError, match=r"CAMRAS is not a known setting"):
        load_settings()


def test_config_file_adds_settings_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "issc.toml"
    config.write_text('CAMERAS = "a=demo,b=demo"\nDETECT_FPS = 2.5\nPERSON_CONF = 0.7\n')
    monkeypatch.setenv("ISSC_CONFIG", str(config))
    monkeypatch.setenv("PERSON_CONF", "0.6")
    settings = load_settings()
    assert [c.name for c in settings.cameras.cameras] == ["a", "b"]
    assert settings.detection.detect_fps == 2.5
    assert settings.tuning.person_conf == 0.6


def test_plate_rules_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from issc.plates.regions import plate_rules

    monkeypatch.setenv("PLATE_FORMATS", "AAA9999, aa99aaa")
    monkeypatch.setenv("PLATE_LETTER_TO_DIGIT", "O0,I1")
    monkeypatch.setenv("PLATE_O_IS_ZERO", "true")
    rules = plate_rules(load_settings().plates)
    assert [f.mask for f in rules.formats] == ["AAA9999", "AA99AAA"]
    assert dict(rules.letter_to_digit) == {"O": "0", "I": "1"}
    assert rules.o_is_zero
    # a read is fixed towards the configured layout: O where a digit belongs becomes 0
    assert rules.apply("ABC 1O34") == "ABC1034"


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("PLATE_FORMATS", "AB12", "is not a plate mask"),
        ("PLATE_LETTER_TO_DIGIT", "0O", "is not a letter+digit pair"),
        ("PLATE_DIGIT_TO_LETTER", "O0", "is not a digit+letter pair"),
    ],
)
def test_bad_plate_rules_are_named(monkeypatch: pytest.MonkeyPatch, key: str, value: str, words: str) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert f"{key}='{value}' is invalid:" in str(info.value) and words in str(info.value)
