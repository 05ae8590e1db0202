"""The Vonage SMS API: sending through Vonage's SDK, and reading its signed webhooks.

Sending uses the modular SDK (``vonage-sms`` on ``vonage-http-client``): one
``POST /sms/json`` per message, authenticated with the API key and secret. Our
dedupe key goes along as ``client-ref``, so a delivery receipt finds its message
even when the provider's message id was never recorded (a sender killed after
Vonage accepted the message) — and a receipt for a message still queued proves it
went out, so it is not sent again (``zorgreserve.callups.delivery``).

Vonage has **no send-side idempotency key**: a request it accepted is an SMS,
however often it is repeated. What keeps a message to one phone is ours: the
dedupe row and the claim (``zorgreserve.callups.sending``), "sent" committed after
every Vonage message (:attr:`VonageBackend.idempotent` is false), and the receipts
above. One window stays open: Vonage accepted, the sender died (or the answer was
lost to a timeout) before committing, and no receipt arrived before the claim went
stale — then the reservist gets the text twice. Never none.

Refusals are sorted by Vonage's status code: a problem with this one message
(invalid or barred number, ...) is :class:`SmsRejected` and the message fails at
once; a problem of the platform or of our account (throttled, internal error, too
many binds, credit, credentials, sender) is :class:`SmsTemporaryFailure`, and the
sender retries the wave with backoff until ``CALLUP_MESSAGE_MAX_ATTEMPTS``.

Webhooks (inbound SMS and delivery receipts) are checked with the SDK's own
signature check (``Auth.check_signature``: HMAC of the sorted parameters with the
signature secret) and refused when their signed ``timestamp`` is older than
``VONAGE_WEBHOOK_MAX_AGE_SECONDS``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from requests import RequestException
from vonage_http_client import Auth, HttpClient, HttpRequestError
from vonage_sms import PartialFailureError, Sms, SmsError
from vonage_sms import SmsMessage as VonageSmsMessage

from zorgreserve.config import ConfigError
from zorgreserve.notifications.sms import SmsMessage, SmsRejected, SmsTemporaryFailure

log = logging.getLogger(__name__)
# The SDK logs every request (text, number and Authorization header included) at DEBUG level.
logging.getLogger("vonage").setLevel(logging.WARNING)

SIGNATURE_METHODS = ("md5", "sha1", "sha256", "sha512")
#: The path of our delivery-receipt webhook, sent as each message's ``callback``.
STATUS_PATH = "/sms/vonage/status"
#: Seconds to wait for Vonage's answer; an answer lost to the timeout is retried (see the module doc).
TIMEOUT_SECONDS = 10

#: Vonage SMS API status codes that concern only this message: retrying cannot help.
PERMANENT_STATUSES = {
    2: "missing parameters",
    3: "invalid parameters",
    6: "invalid message (unroutable number)",
    7: "number barred",
    12: "message too long",
    22: "invalid network code",
    29: "non-whitelisted destination",
    33: "number de-activated",
}
#: The codes for the platform or our account; unknown codes are treated the same (retried, then failed).
TEMPORARY_STATUSES = {
    1: "throttled",
    4: "invalid credentials",
    5: "internal error",
    8: "account barred",
    9: "partner quota violation (credit)",
    10: "too many existing binds",
    11: "account not enabled for HTTP",
    14: "invalid signature",
    15: "invalid sender address",
    23: "invalid callback url",
    32: "signature and API secret disallowed",
}

# GSM 03.38: the default alphabet and its extension table. A text with any other
# character must go as ``unicode`` (70 characters a segment instead of 160).
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    "\f^{}\\[~]|€"
)
_ALPHANUMERIC_SENDER = re.compile(r"^[A-Za-z0-9 .\-]{1,11}$")
_NUMERIC_SENDER = re.compile(r"^\+?[0-9]{6,15}$")
_ERROR_CODE = re.compile(r"error code (\d+)")


def needs_unicode(text: str) -> bool:
    """Whether ``text`` has a character outside the GSM-7 alphabet (Dutch "ë" and "ï" are outside)."""
    return any(char not in _GSM7 for char in text)


def check_settings(config: Mapping[str, Any], *, sending: bool) -> None:
    """Raise :class:`ConfigError` for settings Vonage would refuse; ``sending``: SMS_BACKEND is vonage."""
    if config["VONAGE_SIGNATURE_METHOD"] not in SIGNATURE_METHODS:
        raise ConfigError(
            "VONAGE_SIGNATURE_METHOD must be one of md5, sha1, sha256, sha512 (the HMAC methods of the "
            f"Vonage dashboard), got {config['VONAGE_SIGNATURE_METHOD']!r}"
        )
    if not sending:
        return
    missing = [
        key
        for key in ("VONAGE_API_KEY", "VONAGE_API_SECRET", "VONAGE_SIGNATURE_SECRET")
        if not config.get(key)
    ]
    if missing:
        raise ConfigError(
            f"SMS_BACKEND=vonage needs {', '.join(missing)}: the API key, API secret and signature "
            "secret from the API settings of the Vonage dashboard (docs/callups.md, Provider set-up: Vonage)"
        )
    sender = config.get("SMS_SENDER") or ""
    if not (_ALPHANUMERIC_SENDER.match(sender) or _NUMERIC_SENDER.match(sender)):
        raise ConfigError(
            "SMS_SENDER must be a name of at most 11 letters and digits or a phone number in international "
            f"form for Vonage, got {sender!r}"
        )


class VonageBackend:
    """Hands each message to the Vonage SMS API; see the module docstring for what is guaranteed."""

    #: Vonage accepts a repeated request as a new SMS: the sender commits after every message.
    idempotent = False

    def __init__(
        self, *, api_key: str, api_secret: str, sender: str, host: str, callback_url: str | None
    ) -> None:
        client = HttpClient(
            Auth(api_key=api_key, api_secret=api_secret),
            {"rest_host": host, "timeout": TIMEOUT_SECONDS},
        )
        self._sms = Sms(client)
        self.sender = sender.lstrip("+") if _NUMERIC_SENDER.match(sender) else sender
        self.callback_url = callback_url if callback_url and len(callback_url) <= 100 else None

    def send(self, message: SmsMessage) -> str:
        if not message.to:
            raise SmsRejected("no phone number")
        request = VonageSmsMessage(
            to=message.to.lstrip("+"),
            from_=self.sender,
            text=message.body,
            client_ref=message.idempotency_key,
            type="unicode" if needs_unicode(message.body) else None,
            callback=self.callback_url,
        )
        try:
            response = self._sms.send(request)
        except PartialFailureError as exc:
            codes = [int(m.get("status", -1)) for m in exc.response.get("messages", [])]
            raise _refusal([code for code in codes if code != 0]) from exc
        except SmsError as exc:
            found = _ERROR_CODE.search(str(exc))
            raise _refusal([int(found.group(1))] if found else [-1]) from exc
        except HttpRequestError as exc:
            raise SmsTemporaryFailure(f"Vonage answered HTTP {exc.response.status_code}") from exc
        except RequestException as exc:
            raise SmsTemporaryFailure(f"Vonage not reached: {type(exc).__name__}") from exc
        # A long text goes as several parts, each with its own id; the first names the message
        # (receipts of the others find it through client-ref).
        return response.messages[0].message_id or ""


def _refusal(codes: list[int]) -> Exception:
    """The exception for Vonage status ``codes``: permanent only if every failed part was refused for good."""
    if codes and all(code in PERMANENT_STATUSES for code in codes):
        return SmsRejected(f"Vonage status {codes[0]}: {PERMANENT_STATUSES[codes[0]]}")
    code = next((c for c in codes if c not in PERMANENT_STATUSES), -1)
    return SmsTemporaryFailure(f"Vonage status {code}: {TEMPORARY_STATUSES.get(code, 'unknown')}")


_backends: dict[tuple[Any, ...], VonageBackend] = {}
_backends_lock = threading.Lock()


def backend_from_config(config: Mapping[str, Any]) -> VonageBackend:
    """The backend for these settings, one per process (its HTTP connections are reused between batches)."""
    check_settings(config, sending=True)
    key = (
        config["VONAGE_API_KEY"],
        config["VONAGE_API_SECRET"],
        config["SMS_SENDER"],
        config["VONAGE_API_HOST"],
        config["PUBLIC_URL"],
    )
    with _backends_lock:
        if key not in _backends:
            _backends[key] = VonageBackend(
                api_key=config["VONAGE_API_KEY"],
                api_secret=config["VONAGE_API_SECRET"],
                sender=config["SMS_SENDER"],
                host=config["VONAGE_API_HOST"],
                callback_url=config["PUBLIC_URL"].rstrip("/") + STATUS_PATH,
            )
        return _backends[key]


# Webhooks -----------------------------------------------------------------------------------


def webhook_problem(params: Mapping[str, Any], config: Mapping[str, Any], *, now: float) -> str | None:
    """Why a webhook delivery must be refused, or ``None`` when it is Vonage's and fresh.

    ``not_configured`` (no signature secret), ``unsigned``, ``bad_signature`` or
    ``stale`` (the signed ``timestamp`` is further than ``VONAGE_WEBHOOK_MAX_AGE_SECONDS``
    from now: a recorded delivery played back later).
    """
    secret, api_key = config.get("VONAGE_SIGNATURE_SECRET"), config.get("VONAGE_API_KEY")
    if not secret or not api_key:
        return "not_configured"
    if not params.get("sig") or not params.get("timestamp"):
        return "unsigned"
    if not isinstance(params["sig"], str):
        return "bad_signature"
    auth = Auth(api_key=api_key, signature_secret=secret, signature_method=config["VONAGE_SIGNATURE_METHOD"])
    if not auth.check_signature(dict(params)):
        return "bad_signature"
    try:
        timestamp = int(str(params["timestamp"]))
    except ValueError:
        return "bad_signature"
    if abs(now - timestamp) > config["VONAGE_WEBHOOK_MAX_AGE_SECONDS"]:
        return "stale"
    return None


@dataclass(frozen=True)
class InboundText:
    message_id: str
    sender: str  # E.164
    text: str


def inbound_of(params: Mapping[str, Any]) -> InboundText | None:
    """The text message in an inbound-SMS webhook; ``None`` without a message id or sender."""
    message_id, msisdn = str(params.get("messageId") or ""), str(params.get("msisdn") or "")
    if not message_id or not msisdn:
        return None
    sender = "+" + msisdn if msisdn.isdigit() else msisdn
    return InboundText(message_id, sender, str(params.get("text") or ""))


#: Vonage receipt status → our message state (``None``: says nothing new).
RECEIPT_STATES = {
    "delivered": "delivered",
    "accepted": "sent",
    "buffered": "sent",
    "expired": "failed",
    "failed": "failed",
    "rejected": "failed",
    "unknown": None,
}


@dataclass(frozen=True)
class Receipt:
    message_id: str
    client_ref: str | None
    state: str | None
    error: str | None


def receipt_of(params: Mapping[str, Any]) -> Receipt | None:
    """The delivery receipt in a webhook; ``None`` without a message id."""
    message_id = str(params.get("messageId") or "")
    if not message_id:
        return None
    status = str(params.get("status") or "unknown")
    state = RECEIPT_STATES.get(status)
    error = None
    if state == "failed":
        error = f"Vonage receipt {status}, err-code {params.get('err-code') or '?'}"
    return Receipt(message_id, str(params.get("client-ref") or "") or None, state, error)
