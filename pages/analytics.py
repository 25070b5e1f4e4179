"""Analytics: people through lines and zones, visits and dwell, distinct people, vehicles on site.

Per camera and time range (1 h, 24 h, 30 days), from the hourly totals the engine stores; every
table downloads as CSV. Admins draw a camera's lines and zones by clicking points on its current
picture (``streamlit-image-coordinates``), or edit them as JSON in the frame's pixels.
"""

from datetime import UTC, datetime

import streamlit as st
from streamlit_image_coordinates import streamlit_image_coordinates

from issc.ui import access, widgets
from issc.ui import analytics as charts

service = access.get_service()
st.title("Analytics")
widgets.store_banner(service)
store = access.history_store(service)
tz = widgets.browser_timezone()

cameras = [c.name for c in service.engine.configs()]
pick, span = st.columns([2, 3], vertical_alignment="bottom")
camera = pick.selectbox(
    "Camera", cameras, index=None, placeholder="All cameras", key="camera", bind="query-params"
)
preset = span.segmented_control(
    "Time range", list(charts.RANGES), default="24h", required=True, key="range", bind="query-params"
)
now = datetime.now(UTC).replace(second=0, microsecond=0)
since = now - charts.RANGES[preset or "24h"]
local_since, local_until = since.astimezone(tz).replace(tzinfo=None), now.astimezone(tz).replace(tzinfo=None)
report = charts.reports(store, store.database_url, camera, since)


def table_with_csv(frame, name: str) -> None:
    """A table and its CSV download."""
    st.dataframe(frame, hide_index=True, width="stretch")
    st.download_button(
        f"Download {name} CSV",
        data=charts.csv_bytes(frame),
        file_name=f"{name}.csv",
        mime="text/csv",
        icon=":material/download:",
        key=f"csv_{name}",
        disabled=frame.empty,
    )


def draw_shape_editor(camera: str, image, w: int, h: int) -> None:
    """Click points on the camera's current picture, name the line or zone, pick its in side, save."""
    state = st.session_state.setdefault(f"draw_{camera}", {"points": [], "last": None, "frozen": None})
    if state["frozen"] is None or state["frozen"].shape != image.shape:
        state["frozen"] = image  # one picture while drawing: the live one moves under the clicks
    kind_label = st.segmented_control(
        "Draw",
        ["Zone (polygon)", "Counting line"],
        default="Zone (polygon)",
        required=True,
        key=f"kind_{camera}",
    )
    kind = "line" if kind_label == "Counting line" else "zone"
    st.caption(
        "Click the picture to add points: a zone needs three or more (it closes itself), a line two or "
        "more. The arrow shows the line's direction, from its first point; its **in** side is the one "
        "on your left or right walking that way."
    )
    shown = charts.drawing_overlay(state["frozen"], state["points"], kind)
    click = streamlit_image_coordinates(shown, width="stretch", key=f"canvas_{camera}", cursor="crosshair")
    if click and click.get("unix_time") != state["last"] and click.get("width"):
        state["last"] = click["unix_time"]
        x = min(max(click["x"] * w / click["width"], 0), w - 1)
        y = min(max(click["y"] * h / click["height"], 0), h - 1)
        state["points"].append((round(x, 1), round(y, 1)))
        st.rerun()
    name_col, side_col = st.columns([3, 2], vertical_alignment="bottom")
    name = name_col.text_input("Name", key=f"shape_name_{camera}", max_chars=40)
    side = (
        side_col.radio("In side", ["left", "right"], horizontal=True, key=f"in_side_{camera}")
        if kind == "line"
        else None
    )
    st.caption(f"Points: {', '.join(f'({x:.0f}, {y:.0f})' for x, y in state['points']) or 'none yet'}")
    save_col, undo_col, clear_col = st.columns(3)
    if save_col.button(
        "Save drawn shape", type="primary", icon=":material/save:", key=f"save_drawn_{camera}"
    ):
        problem = charts.add_drawn_shape(
            store,
            service.engine,
            camera,
            {"name": name, "kind": kind, "points": state["points"], "in": side},
            w,
            h,
        )
        if problem:
            st.error(problem)
        else:
            state.update(points=[], frozen=None)
            st.success(f"Saved {name!r}: counting with it from the next frame.")
    if undo_col.button("Undo last point", key=f"undo_{camera}", disabled=not state["points"]):
        state["points"].pop()
        st.rerun()
    if clear_col.button("Clear points", key=f"clear_{camera}", disabled=not state["points"]):
        state.update(points=[], frozen=None)
        st.rerun()


lines_tab, zones_tab, people_tab, vehicles_tab, shapes_tab = st.tabs(
    ["In / out", "Zones", "Distinct people", "Vehicles", "Lines and zones"]
)
with lines_tab:
    lines = charts.lines_frame(report["lines"], tz)
    if lines.empty:
        st.caption("No line crossings in this range. Draw a line under **Lines and zones**.")
    else:
        st.altair_chart(
            charts.hour_bars(lines, "count", "direction", local_since, local_until, "people per hour"),
            width="stretch",
        )
    table_with_csv(lines.drop(columns=["end"]), "crossings-per-hour")
with zones_tab:
    occupancy = charts.occupancy_frame(report["zones"], tz)
    visits = charts.visits_frame(report["zones"], tz)
    summary = [
        f"**{z['name']}** ({z['camera']}): {z['visit_count']} visits, average stay "
        + (f"{z['mean_dwell_s']:.0f} s" if z["mean_dwell_s"] is not None else "–")
        + f", at most {z['max_occupancy']} at once"
        for z in report["zones"]["zones"]
    ]
    st.markdown("\n".join(f"- {line}" for line in summary) or "No zone visits in this range.")
    if not occupancy.empty:
        st.altair_chart(
            charts.hour_bars(occupancy, "max_occupancy", "zone", local_since, local_until, "peak occupancy"),
            width="stretch",
        )
    if not visits.empty:
        st.altair_chart(charts.dwell_histogram(visits), width="stretch")
    table_with_csv(occupancy.drop(columns=["end"]), "occupancy-per-hour")
    table_with_csv(visits, "zone-visits")
with people_tab:
    people = charts.people_frame(report["people"], tz)
    if people.empty:
        st.caption("No people counted in this range.")
    else:
        st.altair_chart(
            charts.hour_bars(people, "distinct", "camera", local_since, local_until, "distinct people"),
            width="stretch",
        )
    table_with_csv(people.drop(columns=["end"]), "distinct-people")
with vehicles_tab:
    passes = charts.directions_frame(report["directions"], tz)
    st.subheader("Direction of travel")
    table_with_csv(passes, "plate-directions")
    site = service.settings.analytics
    if not site.entries:
        st.info(
            "Set `ENTRY_CAMERAS` and `EXIT_CAMERAS` to pair plate reads into visits.",
            icon=":material/garage:",
        )
    else:
        closed, onsite = charts.site_frame(store, site, tz)
        st.subheader(f"On site now: {len(onsite)}")
        table_with_csv(onsite, "on-site")
        st.subheader("Visits")
        if not closed.empty:
            st.metric("Average stay", f"{closed['stay (min)'].mean():.1f} min")
        table_with_csv(closed, "vehicle-visits")
with shapes_tab:
    if camera is None:
        st.caption("Pick a camera to see or edit its lines and zones.")
    else:
        live = next((c for c in service.engine.configs() if c.name == camera), None)
        picture = service.engine.latest(live.id) if live is not None else None
        if picture is not None:
            st.caption("Current picture with its lines and zones")
        user = access.current_user()
        if picture is not None and (user is not None and not user.can("admin")):
            st.image(picture.image, channels="BGR", width="stretch")
        if user is not None and not user.can("admin"):
            st.code(charts.shapes_text(store, camera), language="json")
            st.caption("Admins can edit these.")
        elif picture is None:
            st.caption(
                "This camera has sent no picture yet; its lines and zones are checked against its frame."
            )
        else:
            h, w = picture.frame.image.shape[:2]
            draw_shape_editor(camera, picture.image, w, h)
            with st.form(f"shapes_{camera}"):
                text = st.text_area(
                    f"Lines and zones as JSON, in pixels of the {w}x{h} frame",
                    charts.shapes_text(store, camera),
                    height=220,
                    help='A zone: {"name": "table", "kind": "zone", "points": [[x, y], ...]}; a line: '
                    '{"name": "door", "kind": "line", "points": [[x, y], [x, y]], "in": "left"} ("in" is the '
                    "side on your left or right walking from the first point to the last).",
                )
                if st.form_submit_button("Save", type="primary", icon=":material/save:"):
                    problem = charts.save_shapes(store, service.engine, camera, text, w, h)
                    if problem:
                        st.error(problem)
                    else:
                        st.success("Saved: counting with these from the next frame.")
