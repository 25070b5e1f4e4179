"""The history writer: a queue bounded in records and bytes, one writer thread, batched inserts, health.

Writes never block the caller: ``add_plate_event`` / ``add_people_count`` / ``save_provisional`` put
the record on a bounded queue and return. One writer thread (``issc-store-writer``) takes records off
the queue and commits them in batches at least every ``flush_interval_s``, so a crash loses at most
that much; a batch holding a pass's plate event (one with a ``pass_key``) is committed at once.
The queue holds at most ``queue_size`` records and ``queue_max_bytes`` of JPEGs; beyond either,
new records are dropped, counted, and logged once per burst of drops (with its count).

When a write fails because of the database (disk full, read-only file, database down: the driver's
``OperationalError``) the writer keeps the batch, reports the failure in :meth:`HistoryWriter.status`,
retries, and writes the batch once the database works again. When it fails because of a record
(a constraint, a value the database refuses), the batch is written one record at a time and each
record that fails on its own is set aside: logged, counted and kept in a short dead-letter list,
so that one poison record never blocks the ones behind it.

A plate event that carries a ``pass_key`` (see :mod:`issc.plates.voting`) is
upserted by it: the provisional event written while the pass is still in view is replaced by the
final one, and the hourly roll-up counts the pass once.

One module per job:

* ``thread`` — :class:`HistoryWriter`: the bounded queue, the writer thread, batches, retries, health;
* ``queued`` — what is queued: the record types, their cost in bytes, which commit at once;
* ``failures`` — database errors (retry) told apart from refused records (dead letters);
* ``rows`` — records to rows, by type; ``plate_events`` — a plate event's rows and its pass-key
  upsert; ``hours`` — the hourly roll-up (:func:`count_hour`, also used by analyst review).
"""

from issc.store.writer.hours import count_hour
from issc.store.writer.queued import QUEUE_MAX_BYTES
from issc.store.writer.thread import HistoryWriter

__all__ = ["QUEUE_MAX_BYTES", "HistoryWriter", "count_hour"]
