"""Watchlist alerts: tag plate events that match the watchlist, keep recent hits for the pages,
and POST them to a webhook without ever blocking the engine. One module per job:

* ``alert`` — what an alert is (:class:`Alert`), the feed the pages read, the webhook's JSON body;
* ``sink`` — :class:`AlertingSink`: tags events from the watchlist before storing, raises alerts;
* ``webhook`` — :class:`WebhookSender`: delivery from the history database's outbox (a restart
  loses none), backoff, a receiver's ``Retry-After``;
* ``signing`` — the ``X-ISSC-Signature`` HMAC-SHA256 when ``WEBHOOK_SECRET`` is set (:func:`sign`,
  :func:`verify`, what a receiver written in Python does);
* ``overstay`` — :class:`OverstayMonitor`: an alert for each vehicle on site longer than the limit.
"""

from issc.alerts.alert import Alert, AlertFeed, alert_payload
from issc.alerts.overstay import OverstayMonitor
from issc.alerts.signing import SIGNATURE_HEADER, sign, verify
from issc.alerts.sink import AlertingSink
from issc.alerts.webhook import WebhookSender

__all__ = [
    "SIGNATURE_HEADER",
    "Alert",
    "AlertFeed",
    "AlertingSink",
    "OverstayMonitor",
    "WebhookSender",
    "alert_payload",
    "sign",
    "verify",
]
