"""Plates: search the plate history, page through it, inspect one pass, chart it, export it.

Every filter is bound to the URL (``?q=LS15&camera=gate&range=7d&min_conf=0.5&watchlist=true&page=2``),
so a search can be bookmarked or shared; opening such a link restores it. Unsure reads (best vote
below the recognition threshold, not confirmed) are left out unless the "Unsure reads" filter asks
for them (``&unsure=include`` or ``&unsure=only``, as in ``/api/plates``).
"""

import streamlit as st

from issc.evidence import MAX_EVIDENCE_EVENTS
from issc.store import PlateFilter
from issc.store.records import UNSURE_CHOICES
from issc.ui import access, history, review, widgets

service = access.get_service()
st.title("Plates")
widgets.store_banner(service)
store = access.history_store(service)
tz = widgets.browser_timezone()

# --- filters (bound to the URL) -----------------------------------------------------------
cameras = [c.name for c in service.engine.configs()]
known = dict.fromkeys([*cameras, "webcam", *history.history_cameras(store)])
linked_camera = st.query_params.get("camera")
if linked_camera:  # a deep link to a camera without recent plates still works
    known.setdefault(linked_camera)

history.cap_linked_query("q")
with st.container(border=True):
    search, camera_col, range_col = st.columns([3, 2, 3], vertical_alignment="bottom")
    q = search.text_input(
        "Search plates",
        key="q",
        max_chars=history.MAX_QUERY_CHARS,
        bind="query-params",
        placeholder="e.g. LS15EBC, or part of it",
        help="Matches substrings and near misses: look-alike characters (8/B, 0/O, 1/I, 5/S) are free, "
        "plus about one other difference per six characters.",
    )
    camera = camera_col.selectbox(
        "Camera", list(known), index=None, placeholder="All cameras", key="camera", bind="query-params"
    )
    preset = range_col.segmented_control(
        "Time range",
        list(history.RANGE_PRESETS),
        default=history.DEFAULT_RANGE,
        required=True,
        key="range",
        bind="query-params",
        help="Last hour, 24 hours, 7 or 30 days, everything, or your own from/to times.",
    )
    custom_since = custom_until = None
    if preset == history.CUSTOM_RANGE:
        since_col, until_col = st.columns(2)
        custom_since = since_col.datetime_input(
            "From", value=None, key="since", bind="query-params", format="YYYY-MM-DD", step=300
        )
        custom_until = until_col.datetime_input(
            "To", value=None, key="until", bind="query-params", format="YYYY-MM-DD", step=300
        )
    conf_col, watch_col, unsure_col = st.columns([3, 2, 3], vertical_alignment="bottom")
    min_conf = conf_col.slider(
        "Minimum confidence", 0.0, 1.0, 0.0, 0.05, key="min_conf", bind="query-params", format="%.2f"
    )
    watchlist_only = watch_col.toggle("Watchlist hits only", key="watchlist", bind="query-params")
    unsure = unsure_col.segmented_control(  # the same words as /api/plates?unsure=
        "Unsure reads",
        list(UNSURE_CHOICES),
        default="exclude",
        required=True,
        key="unsure",
        bind="query-params",
        help="Unsure reads (best vote below the recognition threshold, nobody confirmed them yet) "
        "raise no alert and are left out unless you ask for them here.",
    )

since, until = history.time_window(preset or history.DEFAULT_RANGE, custom_since, custom_until, tz)
if since is not None and until is not None and since >= until:
    st.error("**From** must be before **To**: change one of them.", icon=":material/event_busy:")
    st.stop()
flt = PlateFilter(
    q=(q or "").strip()[: history.MAX_QUERY_CHARS] or None,
    camera=camera,
    since=since,
    until=until,
    min_conf=min_conf or None,
    watchlist_only=watchlist_only,
    unsure=unsure or "exclude",
)

# A new search starts on page 1 (the page widget is created below, so this may still set it).
signature = (
    flt.q,
    flt.camera,
    preset,
    custom_since,
    custom_until,
    flt.min_conf,
    flt.watchlist_only,
    flt.unsure,
)
if st.session_state.get("_plates_filter") not in (None, signature):
    st.session_state["page"] = 1
st.session_state["_plates_filter"] = signature

# --- table, paged in SQL ------------------------------------------------------------------
total = history.plate_count(store, flt)
summary, size_col, page_col, download_col, pack_col = st.columns(
    [3, 1, 1, 1.4, 1.6], vertical_alignment="bottom"
)
size = size_col.selectbox("Rows per page", history.PAGE_SIZES, index=1, key="size", bind="query-params")
page = page_col.number_input("Page", min_value=1, step=1, key="page", bind="query-params")
pages = max(1, -(-total // size))
page = min(int(page), pages)
rows = history.plate_rows(store, flt, limit=size, offset=(page - 1) * size)
first = (page - 1) * size + 1
summary.markdown(
    (f"**{total:,}** plates match" if total != 1 else "**1** plate matches")
    + (f" · rows {first:,}–{first + len(rows) - 1:,} · page {page} of {pages}" if rows else "")
)
download_col.link_button(  # streamed by /api/plates.csv, never built whole in this process
    "Download CSV",
    history.plates_csv_url(flt),
    key="download_csv",
    icon=":material/download:",
    disabled=total == 0,
    help="Every matching row, not just this page: id, times (UTC), camera, text, confidence, reads, "
    "OCR calls, watchlist label, box, review state and whether the read is unsure.",
    width="stretch",
)


pack_col.link_button(  # streamed by /api/plates/evidence.zip, like the CSV
    "Evidence pack",
    history.plates_csv_url(flt).replace("/api/plates.csv", "/api/plates/evidence.zip", 1),
    icon=":material/folder_zip:",
    key="download_evidence",
    disabled=total == 0,
    help=f"A ZIP of the matching events (at most {MAX_EVIDENCE_EVENTS}, newest first): the CSV, each "
    "event's crop, snapshot, reads and audit trail, and a manifest with the SHA-256 of every file.",
    width="stretch",
)

if not rows:
    hint = "widen the time range, lower the minimum confidence" if total == 0 else "go back a page"
    st.info(f"No plates to show: {hint}, or clear the search.", icon=":material/search_off:")
    selected = None
else:
    event = st.dataframe(
        history.plates_table(rows, tz),
        key="plates_table",
        hide_index=True,
        column_config=history.plates_column_config(),
        on_select="rerun",
        selection_mode="single-row",
        row_height=44,
        width="stretch",
    )
    picked = event.selection.rows if event is not None else []
    selected = rows[picked[0]] if picked and picked[0] < len(rows) else None
    if selected is None:
        st.caption("Select a row to see the crop and the full snapshot.")

# --- one pass in detail: images, why it reads so, and (analysts) correct or confirm --------
if selected is not None:
    detail = store.plate_detail(selected.id)
    if detail is None:  # purged by retention since the table was read
        st.info("This event is no longer in the history.", icon=":material/history_toggle_off:")
    else:
        selected = detail.row
        with st.container(border=True, key="plate_details"):
            st.subheader(f"{selected.text} · {selected.camera}")
            info, crop_col, snap_col = st.columns([3, 2, 5])
            seen = selected.last_seen.astimezone(tz)
            info.markdown(
                "\n".join(
                    [
                        f"- **Last seen** {seen:%Y-%m-%d %H:%M:%S}",
                        f"- **First seen** {selected.first_seen.astimezone(tz):%H:%M:%S}",
                        f"- **Confidence** {selected.confidence:.2f} from {selected.reads} agreeing reads "
                        f"({selected.ocr_calls} OCR calls)",
                        f"- **Watchlist** :orange-badge[{selected.watchlist}]"
                        if selected.watchlist
                        else "- **Watchlist** no match",
                        f"- **Event** #{selected.id}",
                    ]
                )
            )
            crop = history.stored_image(store, selected.id, "crop") if selected.has_crop else None
            if crop is not None:
                crop_col.image(crop, caption="Crop", width="stretch")
                crop_col.download_button(
                    "Download crop",
                    data=crop,
                    file_name=f"plate-{selected.id}-crop.jpg",
                    mime="image/jpeg",
                    icon=":material/download:",
                    on_click="ignore",
                    key=f"download_crop_{selected.id}",
                )
            else:
                crop_col.caption("No crop stored.")
            snapshot = history.stored_image(store, selected.id, "snapshot") if selected.has_snapshot else None
            boxed = history.snapshot_with_box(snapshot, selected.box) if snapshot is not None else None
            if boxed is not None:
                snap_col.image(boxed, channels="BGR", caption="Snapshot", width="stretch")
                snap_col.download_button(
                    "Download snapshot",
                    data=snapshot,
                    file_name=f"plate-{selected.id}-snapshot.jpg",
                    mime="image/jpeg",
                    icon=":material/download:",
                    on_click="ignore",
                    key=f"download_snapshot_{selected.id}",
                )
            else:
                snap_col.caption("No snapshot stored.")
            clip = store.plate_clip(selected.id)  # not cached: a clip is filed seconds after its event
            if clip is not None:
                snap_col.video(clip.mp4, format="video/mp4")
                snap_col.caption(
                    f"Clip: {clip.duration_s:.1f} s from {clip.started_at.astimezone(tz):%H:%M:%S} ({clip.codec})"
                )
                snap_col.download_button(
                    "Download clip",
                    data=clip.mp4,
                    file_name=f"plate-{selected.id}-clip.mp4",
                    mime="video/mp4",
                    icon=":material/download:",
                    on_click="ignore",
                    key=f"download_clip_{selected.id}",
                )
            why, edit = st.columns([3, 2])
            with why:
                review.show_why(detail, tz)
            with edit:
                user = access.current_user()
                if review.can_review(user):
                    with st.form(f"correct_{selected.id}", border=False):
                        typed = st.text_input(
                            "Plate text", value=selected.text, key=f"correct_text_{selected.id}", max_chars=32
                        )
                        st.caption("Leave the text to confirm it, or type the right plate to correct it.")
                        if st.form_submit_button(
                            "Confirm or correct", type="primary", icon=":material/check:"
                        ):
                            problem = review.apply_review(
                                service, store, selected.id, typed, selected.text, user
                            )
                            if problem:
                                st.error(problem)
                            else:
                                history.clear_caches()
                                st.rerun()
                else:
                    st.caption("Analysts and admins can correct or confirm this read.")

# --- charts over the same filters ---------------------------------------------------------
st.subheader("Over time")
hourly_tab, people_tab, top_tab = st.tabs(["Plates per hour", "People", "Most frequent plates"])
with hourly_tab:
    hourly = history.plates_per_hour_frame(store, flt, tz)
    if hourly.empty:
        st.caption("No plates in this selection.")
    else:
        st.bar_chart(hourly, x="hour", y="plates", color="camera", x_label="hour", y_label="plates")
with people_tab:
    people = history.people_frame(store, flt, tz)
    if people.empty:
        st.caption("No people counts in this time range.")
    else:
        st.line_chart(people, x="time", y="peak", color="camera", x_label="time", y_label="people (peak)")
        st.caption(
            f"Peak people in view per {history.people_bucket_minutes(flt.since, flt.until)} minutes "
            "(camera and time filters apply)."
        )
with top_tab:
    top = history.top_plates_frame(store, flt)
    if top.empty:
        st.caption("No plates in this selection.")
    else:
        st.bar_chart(top, x="plate", y="seen", horizontal=True, sort="-seen", x_label="passes", y_label="")
