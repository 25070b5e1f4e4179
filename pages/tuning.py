"""Tuning: detection and OCR thresholds for all cameras or one, applied live and saved, with a preview
of a picture analysed with the current settings next to the previous ones."""

import streamlit as st

from issc import tuning as live_tuning
from issc import uploads
from issc.plates.regions import region_preset
from issc.redact import error_line, redact
from issc.tuning import Tuning
from issc.ui import access, preview, widgets

access.require_role("admin")
service = access.get_service()
engine = service.engine
st.title("Tuning")
widgets.store_banner(service)
st.caption(
    "Changes apply to the running cameras on their next analysed frame and are saved, so they survive "
    "a restart. A camera can keep its own settings; the others follow **All cameras**."
)

LABELS = {
    "person_conf": "person confidence",
    "plate_conf": "plate confidence",
    "ocr_min_conf": "OCR minimum confidence",
    "iou": "IoU",
    "motion_threshold": "motion threshold",
    "ocr_engine": "OCR engine",
    "ocr_preprocess": "OCR preprocessing",
    "recognition_threshold": "recognition threshold",
}
WIDGETS = (
    "person_conf",
    "plate_conf",
    "iou",
    "motion_sensitivity",
    "ocr_engine",
    "ocr_preprocess",
    "ocr_min_conf",
    "recognition_threshold",
)


def widget_key(name: str, camera: str | None) -> str:
    return f"tune_{name}_{camera or 'all'}"


def widget_values(tuning: Tuning) -> dict[str, object]:
    values: dict[str, object] = tuning.model_dump()
    values["motion_sensitivity"] = live_tuning.sensitivity_from_threshold(tuning.motion_threshold)
    return values


ALL_CAMERAS = ""  # the scope option of the shared settings (camera names are never empty)
NAMES = [c.name for c in engine.configs()]
#: Cameras with a plate region of their own (set on the Cameras page), by name.
CAMERA_REGIONS = {c.name: c.plate_region for c in engine.configs() if c.plate_region}


def scope_label(camera: str) -> str:
    if camera == ALL_CAMERAS:
        return "All cameras"
    return f"{camera} · own settings" if camera in engine.tuning.overrides() else camera


def _remember_previous(camera: str | None, before: Tuning) -> None:
    st.session_state.setdefault("_tune_previous", {})[camera] = before


def _apply(name: str, camera: str | None) -> None:
    """on_change of one widget: apply that one value (the others stay exactly as they were)."""
    before = engine.tuning_for(camera)
    value = st.session_state[widget_key(name, camera)]
    if name == "motion_sensitivity":
        name, value = "motion_threshold", live_tuning.threshold_from_sensitivity(int(value))
    after = before.changed(**{name: value})
    if after == before:
        return
    _remember_previous(camera, before)
    saved = engine.set_tuning(after, camera)
    st.session_state[f"_tune_seen_{camera}"] = after
    where = "all cameras" if camera is None else camera
    note = "" if saved else " (not saved: no history store)"
    st.toast(f"{LABELS[name].capitalize()} → {value} for {where}{note}", icon=":material/tune:")


def _reset(camera: str) -> None:
    before = engine.tuning_for(camera)
    engine.clear_tuning(camera)
    _remember_previous(camera, before)
    st.session_state.pop(f"_tune_seen_{camera}", None)
    st.toast(f"{camera} follows All cameras again", icon=":material/undo:")


def bounds(name: str) -> tuple[float, float]:
    """The slider range of a threshold: its bounds in :class:`Tuning` (declared once, there)."""
    return Tuning.bounds(name)


# --- scope --------------------------------------------------------------------------------
scope = (
    st.selectbox(
        "Settings for",
        [ALL_CAMERAS, *NAMES],
        format_func=scope_label,
        key="tune_scope",
        help="All cameras: the shared settings. One camera: settings of its own, which override the shared "
        "ones.",
    )
    or None
)
current = engine.tuning_for(scope)
if scope is None:
    own = [name for name in engine.tuning.overrides() if name in NAMES]
    if own:
        st.info(
            f"{', '.join(f'**{n}**' for n in own)} keep{'s' if len(own) == 1 else ''} its own settings: "
            "pick it above to change or reset them.",
            icon=":material/call_split:",
        )
elif scope in engine.tuning.overrides():
    st.button(
        "Reset to All cameras",
        on_click=_reset,
        args=(scope,),
        icon=":material/undo:",
        key="tune_reset",
        help="Drop this camera's own settings; it follows the shared ones again.",
    )
else:
    st.caption("This camera follows **All cameras**; changing a value here gives it settings of its own.")

# Widgets show what the engine uses now, also after a change from another session or a reset.
seen_key = f"_tune_seen_{scope}"
if st.session_state.get(seen_key) != current or any(
    widget_key(w, scope) not in st.session_state for w in WIDGETS
):
    for name, value in widget_values(current).items():
        if name in WIDGETS:
            st.session_state[widget_key(name, scope)] = value
    st.session_state[seen_key] = current

detection, reading = st.columns(2, gap="large")
with detection, st.container(border=True):
    st.markdown("**Detection**")
    for name, label, helptext in (
        ("person_conf", "Person confidence", "People below this detector confidence are ignored."),
        ("plate_conf", "Plate confidence", "Plates below this detector confidence are not tracked or read."),
        ("iou", "IoU (overlap)", "Boxes overlapping more than this are merged (non-maximum suppression)."),
    ):
        st.slider(
            label,
            *bounds(name),
            step=0.05,
            key=widget_key(name, scope),
            on_change=_apply,
            args=(name, scope),
            help=helptext,
            format="%.2f",
        )
    st.slider(
        "Motion sensitivity",
        0,
        100,
        step=1,
        key=widget_key("motion_sensitivity", scope),
        on_change=_apply,
        args=("motion_sensitivity", scope),
        help="Detection only runs while something moves. Higher reacts to smaller changes "
        "(0 needs 10 % of the pixels to change, 100 only 0.01 %).",
    )
    st.caption(f"Motion threshold: {current.motion_threshold:.3%} of the pixels must change.")
with reading, st.container(border=True):
    st.markdown("**Plate reading**")
    st.selectbox(
        "OCR engine",
        ("rapidocr", "easyocr"),
        key=widget_key("ocr_engine", scope),
        on_change=_apply,
        args=("ocr_engine", scope),
        help="RapidOCR is faster; EasyOCR is an alternative for hard plates (loads its model on first use).",
    )
    st.selectbox(
        "Preprocessing",
        ("none", "prototype"),
        format_func={"none": "none", "prototype": "prototype (grey + denoise)"}.get,
        key=widget_key("ocr_preprocess", scope),
        on_change=_apply,
        args=("ocr_preprocess", scope),
        help="prototype: the old prototype's grey + fastNlMeansDenoising; it can blur small characters.",
    )
    st.slider(
        "OCR minimum confidence",
        *bounds("ocr_min_conf"),
        step=0.05,
        key=widget_key("ocr_min_conf", scope),
        on_change=_apply,
        args=("ocr_min_conf", scope),
        help="Reads below this confidence do not count in the vote.",
        format="%.2f",
    )
    st.slider(
        "Recognition threshold",
        *bounds("recognition_threshold"),
        step=0.01,
        key=widget_key("recognition_threshold", scope),
        on_change=_apply,
        args=("recognition_threshold", scope),
        help="One read at least this confident makes a plate event; below it a pass needs two agreeing "
        "reads, or one read that fits the region's plate layouts.",
        format="%.2f",
    )
    plates = service.settings.plates
    overrides = [
        key.upper()
        for key in ("plate_formats", "plate_letter_to_digit", "plate_digit_to_letter", "plate_o_is_zero")
        if getattr(plates, key) not in (None, "")
    ]
    own_region = CAMERA_REGIONS.get(scope or "")
    region, origin = (
        (own_region, "this camera's own, set on the Cameras page")
        if own_region
        else (plates.plate_region, "`PLATE_REGION`, set at start")
    )
    st.caption(
        f"Plate region **{region}** ({origin}): {region_preset(region).describe()}."
        + (f" Replaced by settings: {', '.join(overrides)}." if overrides else "")
    )
if service.store is None:
    st.warning("There is no history store: changes apply now but are lost on restart.")

# --- preview ------------------------------------------------------------------------------
st.subheader("Preview")
source = st.segmented_control(
    "Picture", ["Camera frame", "Upload"], default="Camera frame", required=True, key="tune_source"
)
image = None
region_of_picture = CAMERA_REGIONS.get(scope or "")  # an upload is read as the scope's camera would
if source == "Upload":
    upload = st.file_uploader(
        "Picture to analyse",
        type=list(uploads.UPLOAD_TYPES),
        max_upload_size=uploads.MAX_UPLOAD_MB,
        key="tune_upload",
        help=f"PNG, JPEG, WebP or BMP, up to {uploads.MAX_UPLOAD_MB} MB and "
        f"{uploads.MAX_UPLOAD_PIXELS // 1_000_000} megapixels. It is analysed here and not stored.",
    )
    if upload is not None:
        try:
            image = uploads.decode_upload(upload.getvalue())
        except uploads.UploadRejected as exc:
            st.error(f"**{upload.name}**: {redact(str(exc))}", icon=":material/broken_image:")
else:
    configs = {c.name: c.id for c in engine.configs()}
    pick, grab = st.columns([3, 1], vertical_alignment="bottom")
    camera = pick.selectbox(
        "Camera", NAMES, index=NAMES.index(scope) if scope in NAMES else 0, key="tune_preview_camera"
    )
    stored = st.session_state.get("_tune_frame")
    if grab.button("Take a new frame", icon=":material/photo_camera:", key="tune_grab") or (
        stored is None or stored[0] != camera or stored[1] is None
    ):
        latest = engine.latest(configs[camera])
        stored = (camera, None if latest is None else latest.frame.image)
        st.session_state["_tune_frame"] = stored
    image = stored[1]
    region_of_picture = CAMERA_REGIONS.get(camera)
    if image is None:
        st.warning(
            f"**{camera}** has no live picture right now: "
            "take a new frame once it is online, or upload a picture.",
            icon=":material/videocam_off:",
        )

if image is not None:
    image = uploads.fit_within(image)
    if service.detector is None:
        st.caption("`DETECTOR=none`: nothing is detected, so the picture comes back unchanged.")
    previous = st.session_state.get("_tune_previous", {}).get(scope)
    if previous is not None and previous != current:
        shown = [("Previous settings", previous), ("Current settings", current)]
    else:
        shown = [("Current settings", current)]
    columns = st.columns(2)
    if len(shown) == 1:
        columns[1].info(
            "Change a setting above to see this picture with the previous settings next to it.",
            icon=":material/compare:",
        )
    for column, (title, tuning) in zip(columns, shown, strict=False):
        with column:
            try:
                result = preview.preview(service, image, tuning, region_of_picture)
            except Exception as exc:  # a detector or OCR failure is shown, never crashes the page
                st.error(
                    f"The preview failed: {type(exc).__name__}: {error_line(exc)}", icon=":material/error:"
                )
                continue
            plates = ", ".join(result.plates) if result.plates else "none"
            st.image(result.image, channels="BGR", caption=title, width="stretch")
            st.markdown(
                f"**{title}**: {result.people} "
                f"{'person' if result.people == 1 else 'people'}, plates: {plates} "
                f"· {result.seconds:.1f} s"
            )
            if title.startswith("Previous"):
                changed = [
                    f"{LABELS[name]} {getattr(tuning, name)} → {getattr(current, name)}"
                    for name in Tuning.model_fields
                    if getattr(tuning, name) != getattr(current, name)
                ]
                st.caption("Changed since: " + "; ".join(changed))
