"""Review: the plate reads most likely to be wrong first; confirm or correct them from the keyboard,
and learn from the corrections (which characters get corrected into which, and look-alike rules).

Keys: **Enter** confirms the shown text (or saves what was typed), typing anywhere starts a
correction, **←/→** move through the queue.
"""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from issc.plates.regions import plate_rules
from issc.plates.review import LOOKALIKES_SETTING, char_confusions, propose_lookalikes, with_lookalikes
from issc.store import PlateFilter
from issc.ui import access, history, review, widgets

user = access.require_role("analyst")
service = access.get_service()
st.title("Review")
widgets.store_banner(service)
store = access.history_store(service)
tz = widgets.browser_timezone()
rules = plate_rules(service.settings.plates)
saved_swaps = [tuple(pair) for pair in store.get_setting(LOOKALIKES_SETTING, [])]
if saved_swaps:
    rules = with_lookalikes(rules, saved_swaps)

cameras = [c.name for c in service.engine.configs()]
known = list(dict.fromkeys([*cameras, "webcam", *history.history_cameras(store)]))
camera_col, range_col = st.columns([2, 3], vertical_alignment="bottom")
camera = camera_col.selectbox("Camera", known, index=None, placeholder="All cameras", key="review_camera")
preset = range_col.segmented_control(
    "Time range", list(history.RANGE_PRESETS)[:-1], default="7d", required=True, key="review_range"
)
since, until = history.time_window(preset or "7d", None, None, tz)
flt = PlateFilter(camera=camera, since=since, until=until)

queue_tab, report_tab = st.tabs(["Queue", "Corrections report"])

with queue_tab:
    reviewed, total = store.review_progress(flt)
    st.progress(reviewed / total if total else 1.0, text=f"**{reviewed} of {total}** reviewed")
    items = store.review_queue(flt, rules=rules, limit=200)
    if not items:
        st.success("Nothing left to review in this selection.", icon=":material/done_all:")
    else:
        pos = min(st.session_state.get("review_pos", 0), len(items) - 1)
        item = items[pos]
        row = item.row
        detail = store.plate_detail(row.id)
        nav_prev, where, nav_next = st.columns([1, 4, 1], vertical_alignment="center")
        if nav_prev.button("Previous", icon=":material/arrow_back:", shortcut="Left", disabled=pos == 0):
            st.session_state["review_pos"] = pos - 1
            st.rerun()
        if nav_next.button(
            "Skip", icon=":material/arrow_forward:", shortcut="Right", disabled=pos >= len(items) - 1
        ):
            st.session_state["review_pos"] = pos + 1
            st.rerun()
        where.markdown(
            f"Item **{pos + 1}** of {len(items)} in the queue · event #{row.id} · **{row.camera}** · "
            f"{row.last_seen.astimezone(tz):%Y-%m-%d %H:%M:%S}"
        )
        with st.container(border=True, key="review_item"):
            st.markdown("**Why first:** " + ("; ".join(item.reasons) or "nothing stands out"))
            crop_col, form_col = st.columns([3, 2], vertical_alignment="top")
            crop = history.stored_image(store, row.id, "crop") if row.has_crop else None
            if crop is not None:
                crop_col.image(crop, caption="Crop", width="stretch")
            else:
                crop_col.caption("No crop stored.")
            with form_col, st.form(f"review_form_{row.id}", border=False):
                typed = st.text_input(
                    "Plate text (type to correct)", value=row.text, key=f"review_text_{row.id}", max_chars=32
                )
                done = st.form_submit_button(
                    "Confirm (Enter)",
                    type="primary",
                    icon=":material/check:",
                    shortcut="Enter",
                    width="stretch",
                )
            if done:
                problem = review.apply_review(service, store, row.id, typed, row.text, user)
                if problem:
                    form_col.error(problem)
                else:
                    history.clear_caches()
                    st.rerun()  # the reviewed event leaves the queue: the next one takes its place
            if detail is not None:
                review.show_why(detail, tz)
            snapshot = history.stored_image(store, row.id, "snapshot") if row.has_snapshot else None
            boxed = history.snapshot_with_box(snapshot, row.box) if snapshot is not None else None
            if boxed is not None:
                with st.expander("Snapshot"):
                    st.image(boxed, channels="BGR", width="stretch")
        # typing anywhere (outside a field) starts a correction: focus the text field, select its text
        st.html(
            """<script>
            if (!window.__isscReviewKeys) {
              window.__isscReviewKeys = true;
              document.addEventListener("keydown", (e) => {
                const t = e.target;
                if (e.ctrlKey || e.metaKey || e.altKey || e.key.length !== 1) return;
                if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
                const field = document.querySelector('[class*="st-key-review_text_"] input');
                if (field) { field.focus(); field.select(); }
              }, true);
            }
            </script>""",
            unsafe_allow_javascript=True,
        )

with report_tab:
    with st.spinner("Reading the corrections…", show_time=True):
        pairs = store.correction_pairs(flt)
    changed = [p for p in pairs if p.original != p.text]
    st.markdown(
        f"**{len(pairs)}** reviewed events in this selection: **{len(changed)}** corrected, "
        f"{len(pairs) - len(changed)} confirmed as read."
    )
    if not changed:
        st.caption("No corrections yet: confusions and rule proposals appear once analysts correct reads.")
    else:
        overall = char_confusions((p.original, p.text) for p in pairs)
        frame = pd.DataFrame(
            [
                {"read as": a or "(nothing)", "corrected to": b or "(nothing)", "times": n}
                for (a, b), n in overall.most_common()
            ]
        )
        st.markdown("**Which characters get corrected into which** (all cameras)")
        st.dataframe(frame, hide_index=True, width="stretch", key="confusions_all")
        by_camera = []
        for cam in sorted({p.camera for p in changed}):
            counts = char_confusions((p.original, p.text) for p in pairs if p.camera == cam)
            by_camera += [
                {"camera": cam, "read as": a or "(nothing)", "corrected to": b or "(nothing)", "times": n}
                for (a, b), n in counts.most_common()
            ]
        with st.expander("Per camera"):
            st.dataframe(pd.DataFrame(by_camera), hide_index=True, width="stretch", key="confusions_camera")
        proposals = propose_lookalikes([(p.original, p.text) for p in pairs], rules)
        st.markdown(
            "**Proposed look-alike rules** (simulated on the past corrections before anyone applies them)"
        )
        if not proposals:
            st.caption("No look-alike swap is corrected often enough to propose (at least twice).")
        for i, proposal in enumerate(proposals):
            cols = st.columns([5, 1], vertical_alignment="center")
            cols[0].markdown(
                f"{proposal.describe()} — would have fixed **{proposal.fixed}**, broken **{proposal.broken}**, "
                f"left {proposal.unchanged} unchanged"
            )
            if user.can("admin") and cols[1].button("Apply", key=f"apply_{i}", disabled=proposal.net <= 0):
                swaps = [*saved_swaps, (proposal.read, proposal.meant)]
                store.set_setting(LOOKALIKES_SETTING, [list(s) for s in dict.fromkeys(swaps)])
                st.toast(f"Applied: {proposal.describe()}. Cameras use it from their next start.", icon="✅")
                st.rerun()
        if saved_swaps:
            st.caption(
                "Applied so far: "
                + ", ".join(f"{a}→{b}" for a, b in saved_swaps)
                + ". Cameras read with them from their next start (restart the dashboard)."
            )
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    st.caption(
        f"Export the reviewed crops as a labelled set: `python -m issc.review export --out review-{stamp}`, then "
        f"`python -m issc.eval plates --manifest review-{stamp}/labels.csv --root review-{stamp} --crops`."
    )
