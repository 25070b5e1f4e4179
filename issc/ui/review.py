"""Reviewing plate reads on the pages: why a read is what it is, and the form that corrects it.

Used by the Plates page (one selected event) and the Review page (the queue). A correction goes
through :meth:`issc.store.Store.correct_plate` and then :meth:`issc.service.Service.corrected`, the
same path as ``PATCH /api/plates/<id>``, so a corrected text that now matches the watchlist raises
the alert.
"""

from __future__ import annotations

from datetime import tzinfo

import pandas as pd
import streamlit as st

from issc import auth
from issc.plates.text import normalize
from issc.service import Service
from issc.store import PlateDetail, PlateRow, Store

#: A character voted with less confidence than this is highlighted as weak.
WEAK_CHAR = 0.6


def char_conf_markdown(text: str, char_conf: tuple[float, ...]) -> str:
    """The text with each weak character on a red background (Streamlit markdown), sure ones plain.

    Without per-character confidence (older events, corrected texts) the text is shown as it is.
    """
    if len(char_conf) != len(text):
        return f"`{text}`"
    parts = []
    for ch, conf in zip(text, char_conf, strict=True):
        parts.append(f":red-background[**{ch}**]" if conf < WEAK_CHAR else f"**{ch}**")
    return " ".join(parts)


def status_badges(row: PlateRow) -> str:
    """Badges for a row: unsure, corrected (from what), confirmed, probably X, watchlist."""
    badges = []
    if row.unsure:
        badges.append(":red-badge[:material/help: unsure: no alert until confirmed]")
    if row.corrected:
        badges.append(f":violet-badge[corrected from {row.original_text}]")
    if row.confirmed:
        badges.append(":green-badge[:material/check: confirmed]")
    if row.probable:
        badges.append(f":blue-badge[probably {row.probable}]")
    if row.watchlist:
        badges.append(f":orange-badge[watchlist: {row.watchlist}]")
    return " ".join(badges) or ":gray-badge[not reviewed]"


def votes_frame(detail: PlateDetail, tz: tzinfo) -> pd.DataFrame:
    """The reads that voted, one row each, in the order they were read."""
    return pd.DataFrame(
        {
            "read": [v.text for v in detail.votes],
            "confidence": [round(v.confidence, 3) for v in detail.votes],
            "frame time": [
                "" if v.at is None else v.at.astimezone(tz).strftime("%H:%M:%S.%f")[:-3] for v in detail.votes
            ],
            "source": [{"ocr": "OCR", "locator": "detector"}.get(v.source, v.source) for v in detail.votes],
            "agrees": [v.text == (detail.row.machine_text) for v in detail.votes],
        }
    )


def audit_frame(detail: PlateDetail, tz: tzinfo) -> pd.DataFrame:
    """The audit trail, oldest first."""
    return pd.DataFrame(
        {
            "when": [a.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") for a in detail.audit],
            "who": [a.user for a in detail.audit],
            "what": [a.action for a in detail.audit],
            "from": [a.old_text for a in detail.audit],
            "to": [a.new_text for a in detail.audit],
            "confirmed": [a.confirmed for a in detail.audit],
        }
    )


def show_why(detail: PlateDetail, tz: tzinfo) -> None:
    """The winning text with per-character confidence, the reads that voted and the audit trail."""
    row = detail.row
    st.markdown(f"**Voted text** {char_conf_markdown(row.machine_text, row.char_conf)}")
    if row.char_conf and any(c < WEAK_CHAR for c in row.char_conf):
        st.caption(f"Characters on red were voted with less than {WEAK_CHAR:.0%} confidence.")
    st.markdown(status_badges(row))
    if detail.votes:
        st.dataframe(
            votes_frame(detail, tz),
            hide_index=True,
            width="stretch",
            key=f"votes_{row.id}",
            column_config={
                "confidence": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f")
            },
        )
    else:
        st.caption("This event was stored before reads were kept: only the voted text is known.")
    if detail.audit:
        st.markdown("**Audit trail**")
        st.dataframe(audit_frame(detail, tz), hide_index=True, width="stretch", key=f"audit_{row.id}")


def apply_review(
    service: Service, store: Store, event_id: int, typed: str, current: str, user: auth.Principal
) -> str | None:
    """Confirm (``typed`` is the current text) or correct an event; returns an error sentence or None."""
    text = normalize(typed or "")
    if not text:
        return "Type a plate (letters and digits), or leave the text as it is to confirm it."
    try:
        if text == current:
            result = store.correct_plate(event_id, confirmed=True, user=user.name)
        else:
            result = store.correct_plate(event_id, text=text, confirmed=True, user=user.name)
    except (ValueError, LookupError) as exc:
        return str(exc)
    service.corrected(result)
    if result.new_watchlist_hit:
        st.toast(
            f"{result.after.text} is on the watchlist ({result.after.watchlist}): alert raised.", icon="🚨"
        )
    verb = "Confirmed" if result.after.text == result.before.text else f"Corrected {result.before.text} →"
    st.toast(f"{verb} {result.after.text}", icon="✅")
    return None


def can_review(user: auth.Principal | None) -> bool:
    """Whether this user may correct and confirm reads (analyst or admin)."""
    return user is not None and user.can("analyst")
