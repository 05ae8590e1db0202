"""Evidence files (diplomas, certificates): checked, stored outside the web root, served by id.

A file is accepted only when its first bytes say it is a PDF, JPEG or PNG and
its name ends in an extension of that same type, so a renamed program or web
page is refused whatever it is called. It is stored under a random key in the
evidence folder that erasure and the export already know
(:func:`zorgreserve.privacy.erasure.evidence_path`: ``EVIDENCE_DIR`` or
``<instance>/evidence``), owner-readable only. The file is written before the
transaction commits; if the transaction rolls back instead, the file is removed
again, and a replaced or removed document's file goes only after the commit
that deleted its row. So a row never points at a missing file and no file
outlives its row.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Session

from zorgreserve import db
from zorgreserve.privacy.erasure import evidence_path as _path_for_key
from zorgreserve.privacy.erasure import unlink_after_commit
from zorgreserve.reservists.models import Evidence, Reservist

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
FILENAME_MAX = 120


@dataclass(frozen=True)
class FileType:
    content_type: str
    magic: bytes
    extensions: frozenset[str]


FILE_TYPES = (
    FileType("application/pdf", b"%PDF-", frozenset({"pdf"})),
    FileType("image/jpeg", b"\xff\xd8\xff", frozenset({"jpg", "jpeg"})),
    FileType("image/png", b"\x89PNG\r\n\x1a\n", frozenset({"png"})),
)
ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"


class EvidenceRejected(ValueError):
    """The upload is not acceptable; ``message`` says why (translated)."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


def max_bytes() -> int:
    """The largest accepted file (``EVIDENCE_MAX_BYTES``, 10 MB unless configured)."""
    return int(current_app.config.get("EVIDENCE_MAX_BYTES") or DEFAULT_MAX_BYTES)


def evidence_path(evidence: Evidence) -> Path:
    """Where ``evidence``'s file lies on disk (for the owner's and coordinators' downloads)."""
    return _path_for_key(evidence.storage_key)


def clean_filename(raw: str | None) -> str:
    """The name to show and to offer on download: no folders, no control characters, short."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().strip(".") or "document"
    if len(name) > FILENAME_MAX:
        stem, dot, ext = name.rpartition(".")
        if dot and len(ext) <= 5:
            name = stem[: FILENAME_MAX - len(ext) - 1] + "." + ext
        else:
            name = name[:FILENAME_MAX]
    return name


def detect_type(filename: str, data: bytes) -> FileType:
    """The file's type from its content, checked against its extension; raises EvidenceRejected."""
    if not data:
        raise EvidenceRejected(_l("The file is empty."))
    limit = max_bytes()
    if len(data) > limit:
        raise EvidenceRejected(
            _l(
                "The file is larger than %(mb)s MB. Upload a smaller scan or photo.",
                mb=limit // (1024 * 1024),
            )
        )
    found = next((t for t in FILE_TYPES if data.startswith(t.magic)), None)
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    if found is None:
        raise EvidenceRejected(_l("This file is not a PDF, JPEG or PNG document."))
    if extension not in found.extensions:
        raise EvidenceRejected(
            _l("The file's name does not match its content. Upload a PDF, JPEG or PNG file as it is.")
        )
    return found


def read_upload(upload: Any) -> tuple[str, bytes]:
    """Read an uploaded file (werkzeug ``FileStorage``) up to one byte over the limit."""
    data = upload.stream.read(max_bytes() + 1)
    return clean_filename(upload.filename), data


# Storage ------------------------------------------------------------------------------

_NEW_FILES = "reservists_new_evidence_files"


def _keep_new_files(session: Session) -> None:
    session.info.pop(_NEW_FILES, None)


def _drop_new_files(session: Session, transaction: Any) -> None:
    """The transaction ended without a commit: the files written for it must go too."""
    if transaction.parent is not None:
        return
    for path in session.info.pop(_NEW_FILES, []):
        try:
            Path(path).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove an uncommitted evidence file: %s", type(exc).__name__)


def _remove_if_rolled_back(path: Path) -> None:
    session = db.session()
    session.info.setdefault(_NEW_FILES, []).append(str(path))
    if not event.contains(session, "after_commit", _keep_new_files):
        event.listen(session, "after_commit", _keep_new_files)
        event.listen(session, "after_transaction_end", _drop_new_files)


def _write(data: bytes) -> str:
    """Write ``data`` under a new random key (owner-only permissions) and return the key."""
    key = secrets.token_hex(32)
    path = _path_for_key(key)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    _remove_if_rolled_back(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return key


def store_evidence(reservist: Reservist, filename: str, data: bytes) -> Evidence:
    """Check and store one document for ``reservist``; raises EvidenceRejected (nothing stored)."""
    file_type = detect_type(filename, data)
    evidence = Evidence(
        reservist_id=reservist.id,
        storage_key=_write(data),
        filename=filename,
        content_type=file_type.content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    db.session.add(evidence)
    db.session.flush()
    return evidence


def discard_evidence(evidence: Evidence) -> None:
    """Delete the row now and the file once the deletion commits."""
    path = evidence_path(evidence)
    db.session.delete(evidence)
    db.session.flush()
    unlink_after_commit([path])
