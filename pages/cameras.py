"""Cameras: add, test, edit, disable and remove cameras while the others keep running (admin)."""

import pandas as pd
import streamlit as st

from issc.camera_api import CONFIGURATION, camera_list
from issc.sources.probe import ProbeResult
from issc.store.cameras import PLATE_REGIONS
from issc.ui import access, widgets

user = access.require_role("admin")
service = access.get_service()
st.title("Cameras")
widgets.store_banner(service)
access.history_store(service)
remote = service.settings.cluster.engine == "remote"
DEFAULT_REGION = f"Default ({service.settings.plates.plate_region}, PLATE_REGION)"
who = user.name

st.caption(
    "Cameras added here are kept in the history database and start at once; the other cameras never "
    "stop. Test a source before adding it: it is opened with the engine's own code."
    + (" With ENGINE=remote the chosen worker starts it through the change feed." if remote else "")
)


def _show_test(result: ProbeResult) -> None:
    if result.ok:
        left, right = st.columns([2, 3])
        if result.jpeg:
            left.image(result.jpeg, caption="First picture")
        right.success(
            f"**Works.** {result.width}×{result.height}, {result.fps:.1f} fps measured over "
            f"{result.frames} frames, codec {result.codec or 'unknown'} ({result.seconds:.1f} s).",
            icon=":material/check_circle:",
        )
    else:
        st.error(f"**The test failed:** {result.reason}", icon=":material/error:")


def _run_test(fields: dict) -> None:
    with st.status("Testing the source (a few seconds at most)…") as status:
        try:
            result = service.test_camera(fields)
        except (ValueError, LookupError) as exc:
            status.update(label="Cannot test", state="error")
            result = None
            problem = str(exc)
        else:
            status.update(
                label="Test done" if result.ok else "Test failed", state="complete" if result.ok else "error"
            )
    if result is None:
        st.error(problem, icon=":material/error:")
    else:
        _show_test(result)


def _region_choice(value: str | None) -> str | None:
    return None if value in (None, DEFAULT_REGION) else value


def _fields(prefix: str) -> dict:
    state = st.session_state
    fields = {
        "source": state[f"{prefix}_source"],
        "password": state[f"{prefix}_password"] or None,
        "plate_region": _region_choice(state[f"{prefix}_region"]),
        "detect_fps": state[f"{prefix}_fps"] or None,
        "people": state[f"{prefix}_people"],
        "enabled": state[f"{prefix}_enabled"],
        "notes": state[f"{prefix}_notes"],
    }
    if remote:
        fields["worker"] = state[f"{prefix}_worker"] or None
    return fields


def _form_fields(prefix: str, password_label: str, new: bool = False) -> None:
    """The form's fields; ``new``: the add form, whose defaults live with its widgets (a key set
    through the Session State API before a rerun that was cut short can come back as the widget's
    own default: a new camera then arrived disabled)."""
    initial = {"value": True} if new else {}
    st.text_input(
        "Source",
        key=f"{prefix}_source",
        placeholder="rtsp://user:password@192.168.1.20:554/stream, http://…/mjpg, /path/clip.mp4 or demo",
        help="Credentials in the URL are stored apart and never shown again (rtsp://***@…).",
    )
    st.text_input(password_label, key=f"{prefix}_password", type="password")
    region_col, fps_col = st.columns(2)
    region_col.selectbox("Plate region", [DEFAULT_REGION, *PLATE_REGIONS], key=f"{prefix}_region")
    fps_col.number_input(
        "Detections per second (0: DETECT_FPS)",
        min_value=0.0,
        max_value=60.0,
        step=1.0,
        key=f"{prefix}_fps",
        **({"value": 0.0} if new else {}),
    )
    people_col, enabled_col = st.columns(2)
    people_col.toggle("Count people", key=f"{prefix}_people", **initial)
    enabled_col.toggle("Enabled", key=f"{prefix}_enabled", **initial)
    if remote:
        st.text_input("Worker (WORKER_ID; empty: any)", key=f"{prefix}_worker")
    st.text_area("Notes", key=f"{prefix}_notes", height=68)


# --- add -----------------------------------------------------------------------------------
def _add() -> None:
    state = st.session_state
    try:
        record = service.add_camera({"name": state["add_name"], **_fields("add")}, who)
    except (ValueError, LookupError) as exc:
        state["_cam_add_error"] = str(exc)
        return
    for key in ("add_name", "add_source", "add_password", "add_notes"):
        state[key] = ""
    st.toast(f"Added camera {record.name}", icon=":material/add:")


with st.form("cam_add", border=True):
    st.markdown("**Add a camera**")
    st.text_input("Name", key="add_name", placeholder="gate2", max_chars=40)
    _form_fields("add", "Password (optional: replaces the one in the URL)", new=True)
    add_col, test_col, _ = st.columns([1, 1, 3])
    add_col.form_submit_button("Add camera", on_click=_add, icon=":material/add:", type="primary")
    test_add = test_col.form_submit_button("Test", icon=":material/network_check:")
if error := st.session_state.pop("_cam_add_error", None):
    st.error(error, icon=":material/error:")
if test_add:
    _run_test(
        {"source": st.session_state["add_source"], "password": st.session_state["add_password"] or None}
    )

# --- list ----------------------------------------------------------------------------------
cameras = camera_list(service)
st.subheader(f"Cameras ({len(cameras)})")
if cameras:
    st.dataframe(
        pd.DataFrame(
            {
                "name": [c["name"] for c in cameras],
                "origin": [
                    "from configuration" if c["origin"] == CONFIGURATION else "stored" for c in cameras
                ],
                "state": [c["state"] for c in cameras],
                "fps": [c.get("fps") for c in cameras],
                "source": [c.get("source", "") for c in cameras],
                "region": [c.get("plate_region") or "" for c in cameras],
                "notes": [c.get("notes", "") for c in cameras],
            }
        ),
        hide_index=True,
        width="stretch",
        key="cam_table",
    )
configured = sorted(service.configured_names())
if configured:
    st.info(
        f"**From configuration:** {', '.join(configured)}. These come from `CAMERAS` in `.env`, "
        "`issc.toml` or the environment: edit them there (and restart), not here.",
        icon=":material/settings:",
    )

# --- edit, test, remove -----------------------------------------------------------------------
records = {r.name: r for r in service.camera_records()}
chosen = st.selectbox(
    "Edit, test or remove a stored camera", list(records), index=None, placeholder="Choose a camera"
)
if chosen is not None and chosen in records:
    record = records[chosen]
    prefix = f"edit_{record.name}"
    defaults = {
        "source": record.display_source,
        "password": "",
        "region": record.plate_region or DEFAULT_REGION,
        "fps": float(record.detect_fps or 0.0),
        "people": record.people,
        "enabled": record.enabled,
        "notes": record.notes,
        "worker": record.worker or "",
    }
    for field, value in defaults.items():
        st.session_state.setdefault(f"{prefix}_{field}", value)

    def _save(name: str = record.name, prefix: str = prefix) -> None:
        try:
            saved = service.update_camera(name, _fields(prefix), who)
        except (ValueError, LookupError) as exc:
            st.session_state["_cam_edit_error"] = str(exc)
            return
        st.session_state[f"{prefix}_password"] = ""
        st.toast(
            "Saved" if saved is not None else "That camera was removed meanwhile.", icon=":material/save:"
        )

    def _remove(name: str = record.name, prefix: str = prefix) -> None:
        service.remove_camera(name)
        for field in defaults:
            st.session_state.pop(f"{prefix}_{field}", None)
        st.toast(f"Removed camera {name}", icon=":material/delete:")

    with st.form(f"cam_edit_{record.name}", border=True):
        st.markdown(f"**{record.name}** · last changed by {record.updated_by or '—'}")
        _form_fields(prefix, "Replace password")
        save_col, test_col, remove_col, _ = st.columns([1, 1, 1, 2])
        save_col.form_submit_button("Save", on_click=_save, icon=":material/save:", type="primary")
        test_edit = test_col.form_submit_button("Test", icon=":material/network_check:")
        remove_col.form_submit_button("Remove", on_click=_remove, icon=":material/delete:")
    if error := st.session_state.pop("_cam_edit_error", None):
        st.error(error, icon=":material/error:")
    if test_edit:
        state = st.session_state
        _run_test(
            {
                "name": record.name,
                "source": state[f"{prefix}_source"],
                "password": state[f"{prefix}_password"] or None,
            }
        )
