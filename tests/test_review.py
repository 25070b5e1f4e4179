"""Analyst review in the store and over HTTP: reads kept with events, corrections with an audit trail,
search/CSV/watchlist on the corrected text, known plates, the review queue, and roles on the API.

The HTTP tests serve the real plate routes behind the real authentication middleware (tokens made
by :class:`issc.auth.Accounts` in the same SQLite database) with uvicorn on a loopback port.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from conftest import serving
from starlette.applications import Starlette
from starlette.middleware import Middleware

from issc.alerts.sink import AlertingSink
from issc.api import plate_routes
from issc.auth import Accounts, AuthMiddleware, Gate
from issc.config import load_settings
from issc.plates.regions import region_preset
from issc.service import Service
from issc.store import PlateFilter, Store
from issc.types import PlateEvent, PlateRead

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def event(
    text: str,
    conf: float = 0.9,
    camera: str = "gate",
    minute: int = 0,
    votes: tuple[PlateRead, ...] = (),
    char_conf: tuple[float, ...] = (),
    pass_key: str | None = None,
) -> PlateEvent:
    at = T0 + timedelta(minutes=minute)
    return PlateEvent(
        camera=camera,
        first_seen=at - timedelta(seconds=3),
        last_seen=at,
        text=text,
        confidence=conf,
        reads=len(votes) or 1,
        box=(10, 20, 130, 50),
        crop_jpeg=b"\xff\xd8crop\xff\xd9",
        votes=votes,
        char_conf=char_conf,
        pass_key=pass_key,
    )


def stored(store: Store, ev: PlateEvent) -> int:
    store.add_plate_event(ev)
    assert store.flush()
    return store.search_plates(PlateFilter(camera=ev.camera), limit=1)[0].id


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(f"sqlite:///{tmp_path}/issc.db", flush_interval_s=0.1) as s:
        yield s


def test_the_reads_that_voted_are_kept_with_the_event(store: Store) -> None:
    # given an event voted from three reads, one of them a misread
    t = T0.timestamp()
    votes = (
        PlateRead("LS15EBC", 0.91, at=t - 2.0, source="locator"),
        PlateRead("LS15E8C", 0.62, at=t - 1.5, source="ocr", char_conf=(0.99,) * 5 + (0.4, 0.98)),
        PlateRead("LS15EBC", 0.88, at=t - 1.0, source="ocr"),
    )
    event_id = stored(store, event("LS15EBC", 0.7, votes=votes, char_conf=(0.98,) * 5 + (0.55, 0.97)))
    # when its detail is read back
    detail = store.plate_detail(event_id)
    # then every read is there, in order, with its time and source, and the per-character confidence
    assert detail is not None
    assert [(v.text, v.confidence, v.source) for v in detail.votes] == [
        ("LS15EBC", 0.91, "locator"),
        ("LS15E8C", 0.62, "ocr"),
        ("LS15EBC", 0.88, "ocr"),
    ]
    assert detail.votes[0].at == datetime.fromtimestamp(t - 2.0, tz=UTC)
    assert detail.votes[1].char_conf == (0.99,) * 5 + (0.4, 0.98)
    assert detail.row.char_conf == (0.98,) * 5 + (0.55, 0.97)
    assert detail.audit == ()
    assert store.plate_detail(event_id + 1000) is None


def test_a_correction_changes_search_csv_and_keeps_the_original_and_the_audit_trail(store: Store) -> None:
    # given a misread event
    event_id = stored(store, event("LS15E8C", 0.55))
    # when an analyst corrects it
    result = store.correct_plate(event_id, text="ls15 ebc", user="ana")
    # then the text is the correction, the machine's read is kept, and the audit trail says who
    assert (result.before.text, result.after.text, result.after.original_text) == (
        "LS15E8C",
        "LS15EBC",
        "LS15E8C",
    )
    assert result.after.confirmed and result.after.reviewed_by == "ana"
    detail = store.plate_detail(event_id)
    assert detail is not None
    [entry] = detail.audit
    assert (entry.user, entry.action, entry.old_text, entry.new_text, entry.confirmed) == (
        "ana",
        "correct",
        "LS15E8C",
        "LS15EBC",
        True,
    )
    # search finds it by the corrected text (an exact query that the old text would not match)...
    assert [r.id for r in store.search_plates(PlateFilter(q="LS15EBC"))] == [event_id]
    # ...the CSV has both texts
    rows = list(csv.DictReader(io.StringIO("".join(store.iter_plates_csv()))))
    assert (rows[0]["text"], rows[0]["original_text"], rows[0]["confirmed"], rows[0]["reviewed_by"]) == (
        "LS15EBC",
        "LS15E8C",
        "yes",
        "ana",
    )
    # and a second review adds a second audit entry
    store.correct_plate(event_id, confirmed=False, user="bo")
    detail = store.plate_detail(event_id)
    assert detail is not None
    assert [(a.user, a.action, a.confirmed) for a in detail.audit] == [
        ("ana", "correct", True),
        ("bo", "confirm", False),
    ]


@pytest.mark.parametrize("text", ["", "  ", "-- ..", "!!!"])
def test_a_text_that_normalises_to_nothing_is_refused(store: Store, text: str) -> None:
    event_id = stored(store, event("LS15EBC"))
    with pytest.raises(ValueError, match="no letters or digits"):
        store.correct_plate(event_id, text=text, user="ana")
    assert store.plate_detail(event_id).audit == ()  # type: ignore[union-attr]


def test_an_unknown_event_cannot_be_corrected(store: Store) -> None:
    with pytest.raises(LookupError):
        store.correct_plate(99, text="LS15EBC", user="ana")


def test_a_correction_that_matches_the_watchlist_raises_the_alert(store: Store) -> None:
    # given a watchlist entry and an event misread so that it does not match
    store.add_watchlist("LS15EBC", "stolen", max_distance=0)
    sink = AlertingSink(store, store)
    sink.add_plate_event(event("XS15E8X", 0.5))
    assert store.flush() and sink.alerts_after(0) == []
    event_id = store.search_plates(limit=1)[0].id
    # when an analyst corrects it to the watched plate
    result = store.correct_plate(event_id, text="LS15EBC", user="ana")
    # then the event carries the label, the result says it is a new hit, and the service raises it
    assert result.after.watchlist == "stolen" and result.new_watchlist_hit
    assert [r.id for r in store.search_plates(PlateFilter(watchlist_only=True))] == [event_id]
    service = Service(settings=load_settings(), engine=None, sink=sink, store=store, alerts=sink)  # type: ignore[arg-type]
    service.corrected(result)  # what the PATCH route calls
    assert [(a.event.text, a.event.watchlist, a.event.camera) for a in sink.alerts_after(0)] == [
        ("LS15EBC", "stolen", "gate")
    ]
    # and confirming it again is not a new hit
    assert not store.correct_plate(event_id, confirmed=True, user="ana").new_watchlist_hit


def test_confirmed_plates_make_later_near_reads_probable(store: Store) -> None:
    # given a plate confirmed on the gate camera
    first = stored(store, event("LS15EBC", minute=0))
    store.correct_plate(first, confirmed=True, user="ana")
    # when later reads one edit away arrive on the same camera, and on another camera
    near = stored(store, event("LS15E8C", minute=5))
    other = stored(store, event("LS15E8C", camera="yard", minute=6))
    same = stored(store, event("LS15EBC", minute=7))
    # then only the same camera's near read is flagged "probably LS15EBC"
    assert store.get_plate(near).probable == "LS15EBC"  # type: ignore[union-attr]
    assert store.get_plate(other).probable is None  # type: ignore[union-attr]
    assert store.get_plate(same).probable is None  # type: ignore[union-attr]
    assert store.known_plates("gate") == frozenset({"LS15EBC"})
    # and un-confirming the only confirmed event forgets the plate
    store.correct_plate(first, confirmed=False, user="ana")
    assert store.known_plates("gate") == frozenset()


def test_the_final_event_of_a_pass_keeps_a_correction_made_while_it_was_provisional(store: Store) -> None:
    # given a provisional event, corrected by an analyst while the car is still in view
    store.save_provisional(event("LS15E8C", 0.5, pass_key="p1"))
    assert store.flush()
    event_id = store.search_plates(limit=1)[0].id
    store.correct_plate(event_id, text="LS15EBC", user="ana")
    # when the pass ends with the machine's final (still wrong) read
    store.add_plate_event(event("LS15E8B", 0.6, pass_key="p1"))
    assert store.flush()
    # then the analyst's text stands and the final read is kept as the original
    row = store.get_plate(event_id)
    assert row is not None and (row.text, row.original_text, row.confidence) == ("LS15EBC", "LS15E8B", 0.6)
    assert store.count_plates() == 1


def test_the_review_queue_puts_likely_mistakes_first_and_counts_progress(store: Store) -> None:
    # given a sure read, an unsure one, one whose reads disagree and one that fits no UK layout
    sure = stored(store, event("LS15EBC", 0.97, minute=0, votes=(PlateRead("LS15EBC", 0.97),) * 2))
    unsure = stored(store, event("AB12CDE", 0.35, minute=1))
    disputed = stored(
        store,
        event(
            "XY51ABC",
            0.7,
            minute=2,
            votes=(PlateRead("XY51ABC", 0.7), PlateRead("XY51A8C", 0.7), PlateRead("XYS1ABC", 0.6)),
        ),
    )
    odd = stored(store, event("1234", 0.9, minute=3))
    rules = region_preset("uk").rules()
    # when the queue is read
    queue = store.review_queue(rules=rules)
    order = [item.row.id for item in queue]
    # then the sure read comes last, and each item says why it is there
    assert set(order) == {sure, unsure, disputed, odd} and order[-1] == sure
    reasons = {item.row.id: " ".join(item.reasons) for item in queue}
    assert "low confidence" in reasons[unsure]
    assert "disagree" in reasons[disputed]
    assert "format" in reasons[odd]
    assert store.review_progress() == (0, 4)
    # and a reviewed event leaves the queue and counts as reviewed
    store.correct_plate(unsure, confirmed=True, user="ana")
    assert unsure not in [item.row.id for item in store.review_queue(rules=rules)]
    assert store.review_progress() == (1, 4)
    assert store.review_progress(PlateFilter(camera="yard")) == (0, 0)


def test_corrections_are_the_pairs_for_the_report_and_the_export(store: Store) -> None:
    a = stored(store, event("LS15E8C", minute=0))
    b = stored(store, event("AB12CDE", minute=1))
    stored(store, event("QQ11QQQ", minute=2))  # never reviewed
    store.correct_plate(a, text="LS15EBC", user="ana")
    store.correct_plate(b, confirmed=True, user="ana")
    pairs = {(p.original, p.text, p.confirmed) for p in store.correction_pairs()}
    assert pairs == {("LS15E8C", "LS15EBC", True), ("AB12CDE", "AB12CDE", True)}
    crops = list(store.labelled_crops())
    assert [(c.text, c.original_text) for c in crops] == [("LS15EBC", "LS15E8C"), ("AB12CDE", "AB12CDE")]
    assert list(store.labelled_crops(since=datetime.now(UTC) + timedelta(days=1))) == []


# --- over HTTP, with roles ---------------------------------------------------------------------


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[tuple[str, Store, dict[str, str], list]]:
    """The plate routes behind the authentication middleware; tokens for each role."""
    store = Store(f"sqlite:///{tmp_path}/issc.db", flush_interval_s=0.1).start()
    accounts = Accounts(store.engine)
    tokens = {role: accounts.create_token(f"{role}-token", role) for role in ("viewer", "analyst", "admin")}
    gate = Gate(load_settings(auth="on").auth, accounts, bind_address="127.0.0.1")
    corrections = []
    app = Starlette(
        routes=plate_routes(lambda: store, corrections.append),
        middleware=[Middleware(AuthMiddleware, gate=lambda: gate)],
    )
    with serving(app) as url:
        yield url, store, tokens, corrections
    store.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_patch_corrects_for_analysts_and_admins_and_refuses_viewers(
    guarded: tuple[str, Store, dict[str, str], list],
) -> None:
    url, store, tokens, corrections = guarded
    event_id = stored(store, event("LS15E8C", 0.5, votes=(PlateRead("LS15E8C", 0.5, at=T0.timestamp()),)))
    target = f"{url}/api/plates/{event_id}"
    # a viewer may read the event but not change it
    seen = requests.get(target, headers=bearer(tokens["viewer"]), timeout=10)
    assert seen.status_code == 200 and seen.json()["votes"][0]["text"] == "LS15E8C"
    refused = requests.patch(target, json={"text": "LS15EBC"}, headers=bearer(tokens["viewer"]), timeout=10)
    assert refused.status_code == 403 and "analyst" in refused.json()["error"]
    assert requests.patch(target, json={"text": "LS15EBC"}, timeout=10).status_code == 401
    # an analyst corrects it; the answer has the reads and the audit trail naming the token
    done = requests.patch(
        target, json={"text": "LS15EBC", "confirmed": True}, headers=bearer(tokens["analyst"]), timeout=10
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["text"], body["original_text"], body["confirmed"]) == ("LS15EBC", "LS15E8C", True)
    assert [(a["user"], a["old_text"], a["new_text"]) for a in body["audit"]] == [
        ("analyst-token", "LS15E8C", "LS15EBC")
    ]
    # it is found by the corrected text, and the CSV has both texts
    found = requests.get(
        f"{url}/api/plates", params={"q": "LS15EBC"}, headers=bearer(tokens["viewer"]), timeout=10
    )
    assert [i["id"] for i in found.json()["items"]] == [event_id]
    exported = requests.get(f"{url}/api/plates.csv", headers=bearer(tokens["viewer"]), timeout=10)
    row = next(csv.DictReader(io.StringIO(exported.text)))
    assert (row["text"], row["original_text"]) == ("LS15EBC", "LS15E8C")
    # an admin may confirm too
    again = requests.patch(target, json={"confirmed": True}, headers=bearer(tokens["admin"]), timeout=10)
    assert again.status_code == 200 and len(again.json()["audit"]) == 2
    assert len(corrections) == 2  # the route tells the service after each correction (for alerts)


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"text": "--"}, 400, "no letters or digits"),
        ({"text": ""}, 400, "no letters or digits"),
        ({"text": 7}, 400, "expected a string"),
        ({"confirmed": "yes"}, 400, "true or false"),
        ({}, 400, "expected text, confirmed, or both"),
        ({"txt": "AB"}, 400, "unknown field"),
        (["LS15EBC"], 400, "JSON object"),
        ({"text": "A" * 65}, 400, "at most 64"),
    ],
)
def test_patch_refuses_bad_bodies_with_a_sentence(
    guarded: tuple[str, Store, dict[str, str], list], body: object, status: int, says: str
) -> None:
    url, store, tokens, _ = guarded
    event_id = stored(store, event("LS15EBC"))
    answer = requests.patch(
        f"{url}/api/plates/{event_id}", json=body, headers=bearer(tokens["analyst"]), timeout=10
    )
    assert answer.status_code == status and says in answer.json()["error"]
    assert store.plate_detail(event_id).audit == ()  # type: ignore[union-attr]


def test_patch_and_get_of_unknown_or_huge_ids(guarded: tuple[str, Store, dict[str, str], list]) -> None:
    url, _, tokens, _ = guarded
    assert (
        requests.get(f"{url}/api/plates/424242", headers=bearer(tokens["viewer"]), timeout=10).status_code
        == 404
    )
    missing = requests.patch(
        f"{url}/api/plates/424242", json={"confirmed": True}, headers=bearer(tokens["analyst"]), timeout=10
    )
    assert missing.status_code == 404
    huge = requests.get(
        f"{url}/api/plates/99999999999999999999", headers=bearer(tokens["viewer"]), timeout=10
    )
    assert huge.status_code == 400
    broken = requests.patch(
        f"{url}/api/plates/1",
        data=b"{not json",
        headers={**bearer(tokens["analyst"]), "Content-Type": "application/json"},
        timeout=10,
    )
    assert broken.status_code in (400, 404)


def test_applied_lookalike_rules_reach_the_cameras_rules(store: Store) -> None:
    # given an admin applied "B read where a digit belongs means 8" from the corrections report
    from issc.plates.review import LOOKALIKES_SETTING
    from issc.service import saved_swaps as _saved_swaps

    assert _saved_swaps(store) == []
    store.set_setting(LOOKALIKES_SETTING, [["Q", "0"]])
    # then the swaps saved in the store are what the analyzer factory adds to the region's rules
    swaps = _saved_swaps(store)
    assert swaps == [("Q", "0")]
    from issc.plates.review import with_lookalikes

    rules = with_lookalikes(region_preset("uk").rules(), swaps)
    assert rules.letter_to_digit["Q"] == "0"
    # and a hand-broken setting is ignored with a warning, not a crash
    store.set_setting(LOOKALIKES_SETTING, "nonsense")
    assert _saved_swaps(store) == []
