"""The BIG-register port: what the register says about one BIG number.

The register's interface is not ours and may change, so the rest of the
application sees only :class:`BigRegister` (``lookup(big_number) -> BigLookup``)
and the answer's four states:

- ``VERIFIED``: the register has a current registration under this number;
- ``NOT_FOUND``: the register answered, and has no current registration under it;
- ``UNAVAILABLE``: the register could not be asked or gave no usable answer.
  This never counts as verified: a decision that needs the register waits;
- ``MANUAL``: no register is asked; the coordinator checks the public BIG
  register by hand and the decision is theirs.

Lookups are by number only. The name the register holds is shown next to the
name the reservist gave, for the coordinator to compare; a name never finds or
confirms a registration on its own.

Adapters, chosen by the ``BIG_REGISTER`` setting (see ``docs/verification.md``):
:class:`ManualBigRegister` (the default), :class:`FakeBigRegister` (tests and
development) and :class:`CibgBigRegister` (the CIBG's public web service).
"""

from __future__ import annotations

import http.client
import logging
import re
import unicodedata
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Protocol
from xml.sax.saxutils import escape

log = logging.getLogger(__name__)

BIG_NUMBER = re.compile(r"^\d{11}$")
PUBLIC_SEARCH_URL = "https://zoeken.bigregister.nl/"
EXTENSION_KEY = "zorgreserve_big_register"
REGISTERS = ("manual", "fake", "cibg")


class LookupStatus(StrEnum):
    VERIFIED = "verified"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"
    MANUAL = "manual"


@dataclass(frozen=True)
class RegisteredProfession:
    """One registration the register lists under the number asked about.

    ``profession_code`` is our ``Profession.code`` when the register's group
    is known to us, else ``None`` (shown with the register's own code).
    ``ends_on`` is the end of the registration as the register has it: the
    date by which re-registration is due, or the date it was struck off.
    """

    group_code: str
    profession_code: str | None
    registered_on: date | None = None
    ends_on: date | None = None

    def is_current(self, on: date) -> bool:
        return self.ends_on is None or self.ends_on >= on


@dataclass(frozen=True)
class BigLookup:
    """The register's answer about one number; names as the register spells them."""

    status: LookupStatus
    initials: str = ""
    last_name: str = ""
    mailing_name: str = ""
    registrations: tuple[RegisteredProfession, ...] = ()
    #: Restrictions or disciplinary measures listed: the coordinator reads them in the register.
    has_measures: bool = False
    #: Why the register was unavailable, for logs (never personal data).
    problem: str = ""

    @property
    def stored_result(self) -> str | None:
        """The value for ``BigRegistration.lookup_result``; a manual check asks no register."""
        return None if self.status is LookupStatus.MANUAL else self.status.value

    def registration_for(self, profession_code: str, on: date) -> RegisteredProfession | None:
        """The current registration for ``profession_code``, if the register lists one."""
        for registration in self.registrations:
            if registration.profession_code == profession_code and registration.is_current(on):
                return registration
        return None

    def surname_matches(self, surname: str) -> bool | None:
        """Whether ``surname`` fits the register's name, or ``None`` when there is nothing to compare.

        Only a hint for the coordinator (married names, prefixes such as "van der"):
        the number found the registration, and the coordinator judges the name.
        """
        if self.status is not LookupStatus.VERIFIED or not (self.last_name or self.mailing_name):
            return None
        own = _words(surname) - _SURNAME_PREFIXES
        if not own:
            return None
        return bool(own & (_words(self.last_name) | _words(self.mailing_name)))

    @classmethod
    def unavailable(cls, problem: str) -> BigLookup:
        return cls(LookupStatus.UNAVAILABLE, problem=problem)


_SURNAME_PREFIXES = {
    "van",
    "de",
    "der",
    "den",
    "het",
    "ter",
    "ten",
    "te",
    "la",
    "le",
    "da",
    "el",
    "op",
    "in",
    "t",
}


def _words(value: str) -> set[str]:
    plain = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    for mark in "-.'":
        plain = plain.replace(mark, " ")
    return set(plain.split())


class BigRegister(Protocol):
    """Anything that can answer for a BIG number. ``name`` is the ``BIG_REGISTER`` setting."""

    name: str

    def lookup(self, big_number: str) -> BigLookup: ...


class ManualBigRegister:
    """The default: no register is asked; the coordinator checks the public register by hand."""

    name = "manual"
    public_search_url = PUBLIC_SEARCH_URL

    def lookup(self, big_number: str) -> BigLookup:
        return BigLookup(LookupStatus.MANUAL)


@dataclass
class FakeBigRegister:
    """A register in memory: numbers → answers. Unknown numbers are not found.

    Set ``available = False`` to play an unreachable register. ``asked`` lists
    the numbers looked up, so a test can see that the register was consulted.
    """

    entries: dict[str, BigLookup] = field(default_factory=dict)
    available: bool = True
    asked: list[str] = field(default_factory=list)
    name: str = "fake"

    def lookup(self, big_number: str) -> BigLookup:
        self.asked.append(big_number)
        if not self.available:
            return BigLookup.unavailable("fake register switched off")
        return self.entries.get(big_number, BigLookup(LookupStatus.NOT_FOUND))

    def register(
        self,
        big_number: str,
        profession_code: str,
        *,
        initials: str = "",
        last_name: str = "",
        ends_on: date | None = None,
        registered_on: date | None = None,
        has_measures: bool = False,
    ) -> BigLookup:
        """Add a verified registration (the form a test usually needs) and return it."""
        answer = BigLookup(
            LookupStatus.VERIFIED,
            initials=initials,
            last_name=last_name,
            mailing_name=f"{initials} {last_name}".strip(),
            registrations=(RegisteredProfession(profession_code, profession_code, registered_on, ends_on),),
            has_measures=has_measures,
        )
        self.entries[big_number] = answer
        return answer


# The CIBG web service --------------------------------------------------------------------

CIBG_URL = "https://api.bigregister.nl/zksrv/soap/4"
CIBG_NAMESPACE = "http://services.cibg.nl/ExternalUser"
CIBG_ACTION = f"{CIBG_NAMESPACE}/ListHcpApprox4"
#: The register's professional-group codes → our ``Profession.code``. **Uncertain**: check them
#: against the service's ``GetRibizReferenceData`` before switching the adapter on, and correct
#: them with ``BIG_REGISTER_GROUP_CODES`` (see docs/verification.md). An unmapped code is shown
#: to the coordinator as it is and never matches a profession.
CIBG_GROUP_CODES: dict[str, str] = {
    "01": "arts",
    "02": "tandarts",
    "03": "verloskundige",
    "04": "fysiotherapeut",
    "16": "psychotherapeut",
    "17": "apotheker",
    "25": "gezondheidszorgpsycholoog",
    "30": "verpleegkundige",
    "81": "physician_assistant",
}
MAX_RESPONSE_BYTES = 1_000_000

Transport = Callable[[str, bytes, dict[str, str], float], bytes]


def urllib_transport(url: str, body: bytes, headers: dict[str, str], timeout: float) -> bytes:
    """POST ``body`` and return the response body; any failure raises (OSError and kin)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (https URL from config)
        return response.read(MAX_RESPONSE_BYTES + 1)


def parse_group_codes(value: str | None) -> dict[str, str]:
    """``"30=verpleegkundige,01=arts"`` → a mapping added over :data:`CIBG_GROUP_CODES`."""
    codes = dict(CIBG_GROUP_CODES)
    for pair in (value or "").split(","):
        if pair.strip():
            group, _, profession = pair.partition("=")
            if not group.strip() or not profession.strip():
                raise ValueError(f"BIG_REGISTER_GROUP_CODES: expected code=profession, got {pair!r}")
            codes[group.strip()] = profession.strip()
    return codes


class CibgBigRegister:
    """The CIBG's public BIG-register web service (SOAP, operation ``ListHcpApprox4``).

    The request carries the BIG number only. Every failure — connection,
    timeout, HTTP error, SOAP fault, an answer we cannot read — is
    ``UNAVAILABLE``, never a verification. The network call is one small
    ``transport`` function, so tests replace it and parse sample answers.
    """

    name = "cibg"
    public_search_url = PUBLIC_SEARCH_URL

    def __init__(
        self,
        url: str = CIBG_URL,
        timeout: float = 10.0,
        group_codes: Mapping[str, str] | None = None,
        transport: Transport = urllib_transport,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.group_codes = dict(CIBG_GROUP_CODES if group_codes is None else group_codes)
        self.transport = transport
        self.today = today

    @staticmethod
    def build_request(big_number: str) -> bytes:
        """The SOAP 1.1 envelope asking for one registration number."""
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
            "<soap:Body>"
            f'<listHcpApproxRequest xmlns="{CIBG_NAMESPACE}">'
            "<WebSite>Ribiz</WebSite>"
            f"<RegistrationNumber>{escape(big_number)}</RegistrationNumber>"
            "</listHcpApproxRequest>"
            "</soap:Body>"
            "</soap:Envelope>"
        ).encode()

    @staticmethod
    def headers() -> dict[str, str]:
        return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{CIBG_ACTION}"'}

    def lookup(self, big_number: str) -> BigLookup:
        if not BIG_NUMBER.match(big_number):
            return BigLookup(LookupStatus.NOT_FOUND)  # not a BIG number: nothing to ask
        try:
            body = self.transport(self.url, self.build_request(big_number), self.headers(), self.timeout)
        except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError, timeouts: OSError
            log.warning("BIG register unavailable: %s", type(exc).__name__)
            return BigLookup.unavailable(type(exc).__name__)
        if len(body) > MAX_RESPONSE_BYTES:
            return BigLookup.unavailable("answer too large")
        try:
            return self.parse_response(body, big_number, self.today())
        except (ET.ParseError, ValueError) as exc:
            log.warning("BIG register answer not understood: %s", type(exc).__name__)
            return BigLookup.unavailable("answer not understood")

    def parse_response(self, body: bytes, big_number: str, today: date) -> BigLookup:
        """Read a ``ListHcpApprox4`` answer; only registrations under ``big_number`` count."""
        root = ET.fromstring(body)  # noqa: S314 (expat: no external entities; size capped above)
        if _first(root, "Fault") is not None:
            raise ValueError("SOAP fault")
        if _first(root, "ListHcpApprox4Result") is None:
            raise ValueError("no ListHcpApprox4Result in the answer")
        for person in _all(root, "ListHcpApprox4"):
            registrations = tuple(
                self._registration(item)
                for item in _all(person, "ArticleRegistrationExtApp")
                if _number(_text(item, "ArticleRegistrationNumber")) == big_number
            )
            if not registrations:
                continue
            return BigLookup(
                LookupStatus.VERIFIED
                if any(r.is_current(today) for r in registrations)
                else LookupStatus.NOT_FOUND,
                initials=_text(person, "Initial"),
                last_name=" ".join(p for p in (_text(person, "Prefix"), _text(person, "BirthSurname")) if p),
                mailing_name=_text(person, "MailingName"),
                registrations=registrations,
                has_measures=_has_measures(person, big_number, today),
            )
        return BigLookup(LookupStatus.NOT_FOUND)

    def _registration(self, item: ET.Element) -> RegisteredProfession:
        group = _text(item, "ProfessionalGroupCode")
        return RegisteredProfession(
            group_code=group,
            profession_code=self.group_codes.get(group),
            registered_on=_date(_text(item, "ArticleRegistrationStartDate")),
            ends_on=_date(_text(item, "ArticleRegistrationEndDate")),
        )


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _all(element: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in element.iter() if _local(e.tag) == name]


def _first(element: ET.Element, name: str) -> ET.Element | None:
    return next((e for e in element.iter() if _local(e.tag) == name), None)


def _text(element: ET.Element, name: str) -> str:
    """The text of the first direct child called ``name`` (any namespace), stripped."""
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def _number(value: str) -> str:
    """Registration numbers are decimals in the schema: give them back their 11 digits."""
    digits = value.split(".")[0].strip()
    return digits.zfill(11) if digits.isdigit() else digits


def _date(value: str) -> date | None:
    """An xs:dateTime to a date; .NET's minimum value (0001-01-01) means "no date"."""
    if not value or value.startswith("0001-01-01"):
        return None
    return date.fromisoformat(value[:10])


def _has_measures(person: ET.Element, big_number: str, today: date) -> bool:
    """Any current limitation or public judgment provision on this registration."""
    for limitation in _all(person, "LimitationExtApp"):
        if _number(_text(limitation, "ArticleRegistrationNumber")) == big_number:
            ends = _date(_text(limitation, "EndDate"))
            if ends is None or ends >= today:
                return True
    for judgment in _all(person, "JudgmentProvisionExtApp"):
        if _number(_text(judgment, "ArticleNumber")) == big_number:
            ends = _date(_text(judgment, "EndDate"))
            if ends is None or ends >= today:
                return True
    return False


# Choosing the adapter ----------------------------------------------------------------------


def build_register(config: Mapping[str, Any]) -> BigRegister:
    """The adapter the ``BIG_REGISTER`` setting names."""
    kind = config.get("BIG_REGISTER", "manual")
    if kind == "manual":
        return ManualBigRegister()
    if kind == "fake":
        return FakeBigRegister()
    if kind == "cibg":
        return CibgBigRegister(
            url=config.get("BIG_REGISTER_URL") or CIBG_URL,
            timeout=float(config.get("BIG_REGISTER_TIMEOUT") or 10),
            group_codes=parse_group_codes(config.get("BIG_REGISTER_GROUP_CODES")),
        )
    raise ValueError(f"BIG_REGISTER must be one of {', '.join(REGISTERS)}, got {kind!r}")


def current_register() -> BigRegister:
    """The application's register adapter, built once per process from its settings."""
    from flask import current_app

    register = current_app.extensions.get(EXTENSION_KEY)
    if register is None:
        register = build_register(current_app.config)
        current_app.extensions[EXTENSION_KEY] = register
    return register
