"""Analytics: people through lines and zones, visits and dwell, distinct people, vehicles on site.

Per camera and time range (1 h, 24 h, 30 days), from the hourly totals the engine stores; every
table downloads as CSV. Admins edit a camera's lines and zones (JSON in the frame's pixels) over its
current picture.
"""

from datetime import UTC, datetime

import streamlit as st

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
    passes = charts.directions_frame(store, camera, since, tz)
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
            st.image(
                picture.image,
                channels="BGR",
                caption="Current picture with its lines and zones",
                width="stretch",
            )
        user = access.current_user()
        if user is not None and not user.can("admin"):
            st.code(charts.shapes_text(store, camera), language="json")
            st.caption("Admins can edit these.")
        elif picture is None:
            st.caption(
                "This camera has sent no picture yet; its lines and zones are checked against its frame."
            )
        else:
            h, w = picture.frame.image.shape[:2]
            with st.form(f"shapes_{camera}"):
                text = st.text_area(
                    f"Lines and zones, in pixels of the {w}x{h} frame",
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
