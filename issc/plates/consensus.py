"""The consensus of several reads of one plate: clusters, partial reads, per-character votes.

A track's reads (OCR and the locator's free reads, each with its confidence and, where the
recogniser gives them, per-character probabilities) are voted into one text here; the voter
(:mod:`issc.plates.voting`) decides which crops to read and when a pass makes its event.
"""

from __future__ import annotations

from collections import defaultdict

from issc.plates.text import similarity
from issc.types import PlateRead

#: Shortest read that counts as a partial read of a longer one (fewer characters prove nothing).
PARTIAL_MIN_CHARS = 3


def is_partial(short: str, full: str) -> bool:
    """Whether ``short`` is a partial read of ``full``: a shorter, contiguous piece of it.

    A plate read while it is still cut off, small or half in shadow often gives only its last or
    first characters (``9658`` of ``K179658``). Such a read is no other plate: it belongs to the
    full read's pass. At least ``PARTIAL_MIN_CHARS`` characters are needed.
    """
    return PARTIAL_MIN_CHARS <= len(short) < len(full) and short in full


def vote(reads: list[PlateRead], threshold: float = 0.7) -> PlateRead | None:
    """The consensus of several reads of one plate.

    Reads are clustered greedily by string similarity (``threshold``), the most confident first; a
    partial read (``is_partial``: a shorter piece of another read, such as ``9658`` of ``K179658``)
    joins the heaviest cluster holding a read it is part of instead of making its own. The cluster
    with the largest summed confidence wins. Inside it, the text length is the one whose full reads
    weigh most; those reads vote per character, and partial reads vote for the characters they
    cover (at the place they sit in the full read), every vote weighted by the read's confidence.
    That repairs a character misread in one frame, and lets a partial read confirm (never shorten)
    the full one.

    The confidence of voted character ``c`` at position ``i`` is

        char_conf[i] = sum(w_r * q_r[i] for r in S_i if r.text[i] == c) / sum(w_r for r in S_i)

    with ``S_i`` the reads voting at position ``i``, ``w_r`` a read's confidence and ``q_r[i]`` the
    recogniser's probability of its character there (``r.char_conf``; the read's confidence when
    it has none). It is the weighted share of reads that agree on ``c`` (lower where reads
    disagree) times how sure the recogniser was of it in those reads (lower where it doubted), in
    [0, 1]; 0 when every weight is 0. A single read keeps its own ``char_conf``.

    Args:
        reads: Normalised reads of one track.
        threshold: Minimum similarity for two reads to be one cluster.

    Returns:
        The voted text (``source="vote"``) with ``char_conf`` as above and confidence = (winning
        cluster's share of all confidence) × (mean confidence of its reads); ``None`` when there
        are no non-empty reads.
    """
    reads = [r for r in reads if r.text]
    if not reads:
        return None
    texts = {r.text for r in reads}
    partial = [r for r in reads if any(is_partial(r.text, t) for t in texts)]
    whole = [r for r in reads if not any(is_partial(r.text, t) for t in texts)]
    clusters: list[list[PlateRead]] = []
    for read in sorted(whole, key=lambda r: r.confidence, reverse=True):
        home = next((c for c in clusters if similarity(c[0].text, read.text) >= threshold), None)
        if home is None:
            clusters.append([read])
        else:
            home.append(read)
    pieces: list[list[PlateRead]] = [[] for _ in clusters]
    for read in partial:
        holders = [k for k, c in enumerate(clusters) if any(is_partial(read.text, r.text) for r in c)]
        home_k = max(holders, key=lambda k: sum(r.confidence for r in clusters[k]))
        pieces[home_k].append(read)
    best_k = max(range(len(clusters)), key=lambda k: sum(r.confidence for r in (*clusters[k], *pieces[k])))
    best, best_pieces = clusters[best_k], pieces[best_k]
    by_length: dict[int, float] = defaultdict(float)
    for r in best:
        by_length[len(r.text)] += r.confidence
    length = max(by_length, key=lambda n: (by_length[n], n))
    same_length = [r for r in best if len(r.text) == length]
    # each voter: (read, its first position in the voted text, per-character probabilities)
    voters: list[tuple[PlateRead, int, tuple[float, ...]]] = []
    for r in same_length:
        voters.append((r, 0, r.char_conf if len(r.char_conf) == length else (r.confidence,) * length))
    for r in best_pieces:
        where = next((f.text.find(r.text) for f in same_length if r.text in f.text), -1)
        if where >= 0:
            n = len(r.text)
            voters.append((r, where, r.char_conf if len(r.char_conf) == n else (r.confidence,) * n))
    chars, char_conf = [], []
    for i in range(length):
        weights: dict[str, float] = defaultdict(float)
        here = [(r, i - at, q) for r, at, q in voters if 0 <= i - at < len(r.text)]
        for r, j, _ in here:
            weights[r.text[j]] += r.confidence
        ch = max(weights, key=lambda c: weights[c])
        weight = sum(r.confidence for r, _, _ in here)
        sure = sum(r.confidence * q[j] for r, j, q in here if r.text[j] == ch)
        chars.append(ch)
        char_conf.append(round(min(1.0, sure / weight), 4) if weight > 0 else 0.0)
    members = [*best, *best_pieces]
    total = sum(r.confidence for r in reads)
    cluster_conf = sum(r.confidence for r in members)
    share = cluster_conf / total if total > 0 else 0.0
    confidence = round(share * cluster_conf / len(members), 4)
    return PlateRead("".join(chars), confidence, source="vote", char_conf=tuple(char_conf))
