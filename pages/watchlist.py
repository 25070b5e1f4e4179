"""Watchlist: plates to flag. Hits are tagged in the history, toasted on Live and sent to the webhook."""

from datetime import datetime

import pandas as pd
import streamlit as st

from issc.store.watchlist import watchlist_plate
from issc.ui import access, widgets

access.require_role("admin")
service = access.get_service()
st.title("Watchlist")
widgets.store_banner(service)
store = access.history_store(service)
tz = widgets.browser_timezone()

st.markdown(
    "Every plate read is compared with these entries: look-alike characters (8/B, 0/O, 1/I, 5/S) count "
    "as equal, plus the allowed number of other edits. A hit is\n"
    "- flagged in the **Plates** table (its *Watchlist* column; filter *Watchlist hits only*),\n"
    "- shown as a toast and a banner on the **Live** page,\n"
    f"- {widgets.webhook_state(service.settings.store.webhook_url)}"
)


def distance_label(value: object) -> str:
    if value == "Automatic":
        return "Automatic (about 1 per 6 characters)"
    return f"{value} edit{'s' if value != 1 else ''}" + (" (exact)" if value == 0 else "")


def _add() -> None:
    """Form callback: validate, add, and clear the form only when it worked."""
    state = st.session_state
    try:
        plate = watchlist_plate(state["wl_add_plate"])
        label = state["wl_add_label"].strip()
        if not label:
            raise ValueError("Enter a label, e.g. “stolen” or “staff car”: it is shown with every hit.")
        existing = next((e for e in store.list_watchlist() if e.plate == plate), None)
        if existing is not None:
            raise ValueError(
                f"{plate} is already on the watchlist ({existing.label}): edit that entry below."
            )
        distance = state["wl_add_distance"]
        entry = store.add_watchlist(plate, label, None if distance == "Automatic" else int(distance))
    except ValueError as exc:
        state["_wl_add_error"] = str(exc)
        return
    state["wl_add_plate"] = state["wl_add_label"] = ""
    state["wl_add_distance"] = "Automatic"
    st.toast(
        f"Added {entry.plate} ({entry.label}), {distance_label(entry.max_distance)}", icon=":material/add:"
    )


def _save(entry_id: int) -> None:
    state = st.session_state
    try:
        plate = watchlist_plate(state[f"wl_edit_plate_{entry_id}"])
        label = state[f"wl_edit_label_{entry_id}"].strip()
        if not label:
            raise ValueError("The label must not be empty.")
        if any(e.plate == plate and e.id != entry_id for e in store.list_watchlist()):
            raise ValueError(f"{plate} is already on the watchlist in another entry.")
        entry = store.update_watchlist(
            entry_id, plate=plate, label=label, max_distance=int(state[f"wl_edit_distance_{entry_id}"])
        )
    except ValueError as exc:
        state["_wl_edit_error"] = str(exc)
        return
    if entry is None:
        st.toast("That entry was removed meanwhile.", icon=":material/info:")
    else:
        state[f"wl_edit_plate_{entry_id}"] = entry.plate  # show the stored (normalised) form
        state[f"wl_edit_label_{entry_id}"] = entry.label
        st.toast(f"Saved {entry.plate} ({entry.label})", icon=":material/save:")


def _remove(entry_id: int, plate: str) -> None:
    store.remove_watchlist(entry_id)
    st.session_state["wl_edit_choice"] = None
    st.toast(f"Removed {plate} from the watchlist", icon=":material/delete:")


# --- add ----------------------------------------------------------------------------------
with st.form("wl_add", border=True):
    st.markdown("**Add a plate**")
    plate_col, label_col, distance_col = st.columns([2, 3, 2])
    plate_col.text_input("Plate", key="wl_add_plate", placeholder="LS15 EBC", max_chars=32)
    label_col.text_input("Label", key="wl_add_label", placeholder="e.g. stolen, staff, VIP", max_chars=128)
    distance_col.selectbox(
        "Allowed edits",
        widgets.WATCHLIST_DISTANCES,
        key="wl_add_distance",
        format_func=distance_label,
        help="How many characters may differ (after look-alike folding) and still count as a hit.",
    )
    st.form_submit_button("Add to watchlist", on_click=_add, icon=":material/add:", type="primary")
if add_error := st.session_state.pop("_wl_add_error", None):
    st.error(add_error, icon=":material/error:")

# --- list, edit, remove -------------------------------------------------------------------
entries = store.list_watchlist()
st.subheader(f"Entries ({len(entries)})")
if not entries:
    st.info("The watchlist is empty: add a plate above.", icon=":material/playlist_add:")
else:
    st.dataframe(
        pd.DataFrame(
            {
                "plate": [e.plate for e in entries],
                "label": [e.label for e in entries],
                "max_distance": [e.max_distance for e in entries],
                "created": pd.to_datetime([e.created for e in entries], utc=True).tz_convert(tz),
            }
        ),
        hide_index=True,
        key="wl_table",
        column_config={
            "plate": st.column_config.TextColumn("Plate"),
            "label": st.column_config.TextColumn("Label"),
            "max_distance": st.column_config.NumberColumn("Allowed edits", format="%d"),
            "created": st.column_config.DatetimeColumn("Added", format="YYYY-MM-DD HH:mm"),
        },
        width="stretch",
    )
    by_id = {e.id: e for e in entries}
    chosen = st.selectbox(
        "Edit or remove",
        list(by_id),
        index=None,
        placeholder="Choose an entry",
        format_func=lambda i: f"{by_id[i].plate} · {by_id[i].label}",
        key="wl_edit_choice",
    )
    if chosen is not None and chosen in by_id:
        entry = by_id[chosen]
        for field, value in (
            ("plate", entry.plate),
            ("label", entry.label),
            ("distance", entry.max_distance),
        ):
            st.session_state.setdefault(f"wl_edit_{field}_{entry.id}", value)
        with st.form(f"wl_edit_{entry.id}", border=True):
            plate_col, label_col, distance_col = st.columns([2, 3, 2])
            plate_col.text_input("Plate", key=f"wl_edit_plate_{entry.id}", max_chars=32)
            label_col.text_input("Label", key=f"wl_edit_label_{entry.id}", max_chars=128)
            distances = sorted({0, 1, 2, 3, entry.max_distance})
            distance_col.selectbox(
                "Allowed edits",
                distances,
                format_func=distance_label,
                key=f"wl_edit_distance_{entry.id}",
            )
            save_col, remove_col, _ = st.columns([1, 1, 3])
            save_col.form_submit_button("Save", on_click=_save, args=(entry.id,), icon=":material/save:")
            remove_col.form_submit_button(
                "Remove", on_click=_remove, args=(entry.id, entry.plate), icon=":material/delete:"
            )
        if edit_error := st.session_state.pop("_wl_edit_error", None):
            st.error(edit_error, icon=":material/error:")

# --- recent hits --------------------------------------------------------------------------
hits = list(reversed(service.engine.alerts()))
st.subheader("Recent hits")
if not hits:
    st.caption("No hits since the server started.")
else:
    st.dataframe(
        pd.DataFrame(
            {
                "time": [datetime.fromtimestamp(a.at, tz) for a in hits],
                "plate": [a.event.text for a in hits],
                "label": [a.event.watchlist for a in hits],
                "camera": [a.event.camera for a in hits],
                "confidence": [a.event.confidence for a in hits],
            }
        ),
        hide_index=True,
        column_config={
            "time": st.column_config.DatetimeColumn("Time", format="YYYY-MM-DD HH:mm:ss"),
            "confidence": st.column_config.NumberColumn("Confidence", format="%.2f"),
        },
        width="stretch",
    )
    widgets.link_to_page(
        "plates.py",
        "All watchlist hits in the history",
        ":material/directions_car:",
        {"watchlist": "true", "range": "All"},
    )
