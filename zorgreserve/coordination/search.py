"""The reservist search: one page of matches in name order, fast at registry scale.

How a page is found depends on how many match (see :func:`search`); the filters
themselves are in :mod:`zorgreserve.coordination.filters`. Figures and the
benchmark: ``docs/performance.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, text, tuple_

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.coordination.filters import (
    Criteria,
    available_ids,
    filtered,
    verified_now,
)
from zorgreserve.reference.models import Qualification, Region
from zorgreserve.reservists.models import Reservist, ReservistQualification

PAGE_SIZE = 50


@dataclass
class ResultRow:
    id: int
    first_name: str
    last_name: str
    pc4: str | None
    region: str | None
    status: str
    paused_until: date | None
    updated_at: datetime
    qualifications: list[str] = field(default_factory=list)


@dataclass
class SearchPage:
    """One page of results.

    ``total`` is the exact number of results, or ``None`` when an availability
    search was only checked as far as this page needed.
    """

    rows: list[ResultRow]
    total: int | None
    page: int
    page_size: int
    has_next: bool

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, -(-self.total // self.page_size))


#: Result order: surname, first name, then the account id (one account per reservist: a total order).
SORT_KEY = (func.lower(User.last_name), func.lower(User.first_name), User.id)
#: Up to this many matches the database filters first and then sorts them all; above it, the
#: accounts are walked in name order (an index) until the page is full.
SORT_ALL_BELOW = 2000
#: Walk in name order only when a page is expected within this many accounts; else sort all matches.
WALK_AT_MOST = 10_000
#: The fewest candidates handed to the availability check at once (each check is a few queries).
FIRST_BATCH = 64

ROW_COLUMNS = (
    Reservist.id,
    User.first_name,
    User.last_name,
    Reservist.pc4,
    Region.name.label("region"),
    Reservist.status,
    Reservist.paused_until,
    Reservist.updated_at,
)


def count_matches(user: User, criteria: Criteria, today: date, *, prefilter: bool = False) -> int:
    matching = filtered(user, criteria, (Reservist.id,), today, prefilter=prefilter).subquery()
    return db.session.scalar(select(func.count()).select_from(matching)) or 0


def account_count() -> int:
    """About how many accounts there are (PostgreSQL's own estimate; a count elsewhere)."""
    if db.session.get_bind().dialect.name == "postgresql":
        estimate = db.session.scalar(
            text("SELECT reltuples FROM pg_class WHERE relname = :name"), {"name": User.__tablename__}
        )
        if estimate and estimate > 0:
            return int(estimate)
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def sorted_ids(
    user: User,
    criteria: Criteria,
    today: date,
    *,
    offset: int = 0,
    limit: int | None = None,
    after: tuple[Any, ...] | None = None,
) -> list[int]:
    """Matching ids in result order: all matches filtered first, then sorted (for small result sets).

    A materialised CTE fences the filter off from the sort, so the database
    cannot choose to walk every account in name order looking for a few matches.
    ``after`` starts behind that sort key (where a :class:`NameOrderWalk` stopped).
    """
    keys = (Reservist.id.label("id"), *(key.label(f"k{i}") for i, key in enumerate(SORT_KEY)))
    query = filtered(user, criteria, keys, today)
    if after is not None:
        query = query.where(tuple_(*SORT_KEY) > tuple_(*after))
    matches = query.cte("matches").prefix_with("MATERIALIZED")
    query = select(matches.c.id).order_by(matches.c.k0, matches.c.k1, matches.c.k2).offset(offset)
    return list(db.session.scalars(query if limit is None else query.limit(limit)))


class NameOrderWalk:
    """Matching reservist ids in result order, found by walking the accounts in name order.

    Each step reads the next accounts, with their reservist id, from the name
    index (a keyset, so it never re-reads) and keeps those that match every
    SQL filter. When most
    reservists match, a page is full after a few hundred accounts, where
    filtering and sorting every match would touch tens of thousands of rows.
    Steps double in size; once :data:`WALK_AT_MOST` accounts were read and the
    page is still not full (few matches), the rest is filtered and sorted whole.
    """

    def __init__(self, user: User, criteria: Criteria, today: date, first_step: int = 200) -> None:
        self.user, self.criteria, self.today = user, criteria, today
        self.after: tuple[Any, ...] | None = None
        self.step = first_step
        self.walked = 0
        self.buffer: list[int] = []
        self.exhausted = False

    def take(self, count: int) -> list[int]:
        """The next ``count`` matching ids (fewer only when the accounts run out)."""
        while len(self.buffer) < count and not self.exhausted:
            self._advance()
        taken, self.buffer = self.buffer[:count], self.buffer[count:]
        return taken

    def _advance(self) -> None:
        if self.walked >= WALK_AT_MOST:
            self.buffer.extend(sorted_ids(self.user, self.criteria, self.today, after=self.after))
            self.exhausted = True
            return
        keys = (
            select(*SORT_KEY, Reservist.id)
            .outerjoin(Reservist, Reservist.user_id == User.id)
            .order_by(*SORT_KEY)
            .limit(self.step)
        )
        if self.after is not None:
            keys = keys.where(tuple_(*SORT_KEY) > tuple_(*self.after))
        accounts = db.session.execute(keys).all()
        if len(accounts) < self.step:
            self.exhausted = True
        if not accounts:
            return
        self.after = tuple(accounts[-1])[:3]
        self.walked += len(accounts)
        in_order = [account[3] for account in accounts if account[3] is not None]
        if not in_order:
            return
        matching = set(
            db.session.scalars(
                filtered(self.user, self.criteria, (Reservist.id,), self.today, within=in_order)
            )
        )
        self.buffer.extend(rid for rid in in_order if rid in matching)
        self.step = min(self.step * 2, 50_000)


def search(
    user: User, criteria: Criteria, page: int = 1, page_size: int = PAGE_SIZE, *, count_all: bool = False
) -> SearchPage:
    """One page of matching reservists, ordered by surname, first name, then account (stable).

    Offset paging: the order is total, so the same search gives the same pages
    as long as the data does not change, and a coordinator can jump to any page.
    Without an availability range: the exact count, then the page (small
    result sets sorted whole, large ones walked in name order). With one: the
    matches are walked in name order and the availability module checks them
    batch by batch, only as far as the page needs; ``count_all`` checks all of
    them instead, for the exact number of available reservists.
    """
    today = date.today()
    page = max(page, 1)
    offset = (page - 1) * page_size
    if criteria.availability_window is None:
        total = count_matches(user, criteria, today)
        # Walking pays when matches are common: about (offset + page) / share accounts to read.
        expected_walk = (offset + page_size) * account_count() / max(total, 1)
        if total <= SORT_ALL_BELOW or expected_walk > WALK_AT_MOST:
            ids = sorted_ids(user, criteria, today, offset=offset, limit=page_size)
        else:
            walk = NameOrderWalk(user, criteria, today, first_step=int(expected_walk * 1.2) + 50)
            ids = walk.take(offset + page_size)[offset:]
        rows = [ResultRow(**row._asdict()) for row in _rows_by_id(ids)]
        add_qualifications(rows, today)
        return SearchPage(rows, total, page, page_size, has_next=offset + page_size < total)

    if count_all:
        candidates = sorted_ids(user, criteria, today)
        keep = available_ids(criteria, candidates)
        available, complete = [rid for rid in candidates if rid in keep], True
    else:
        walk = NameOrderWalk(user, criteria, today, first_step=min(WALK_AT_MOST, 16 * (offset + page_size)))
        available, complete = available_in_order(criteria, walk.take, need=offset + page_size + 1)
    rows = [ResultRow(**row._asdict()) for row in _rows_by_id(available[offset : offset + page_size])]
    add_qualifications(rows, today)
    return SearchPage(
        rows,
        len(available) if complete else None,
        page,
        page_size,
        has_next=len(available) > offset + page_size,
    )


def available_in_order(
    criteria: Criteria, more: Callable[[int], list[int]], *, need: int
) -> tuple[list[int], bool]:
    """The available ones among the candidates ``more(n)`` hands out in order, until ``need`` are found.

    Returns them and whether the candidates ran out (then the list is the exact
    answer). Batches start a little above ``need`` and double, so a first page
    costs one small check, and a search where few are available still ends
    after a handful of calls.
    """
    found: list[int] = []
    batch = max(FIRST_BATCH, need + need // 4)
    while len(found) < need:
        chunk = more(batch)
        if not chunk:
            return found, True
        available = available_ids(criteria, chunk)
        found.extend(rid for rid in chunk if rid in available)
        if len(chunk) < batch:
            return found, True
        batch *= 2
    return found, False


def _rows_by_id(ids: list[int]) -> list[Any]:
    """The result columns for ``ids`` (already scoped and filtered), in the order given."""
    if not ids:
        return []
    found = {
        row.id: row
        for row in db.session.execute(
            select(*ROW_COLUMNS)
            .join(User, User.id == Reservist.user_id)
            .outerjoin(Region, Region.id == Reservist.home_region_id)
            .where(Reservist.id.in_(ids))
        )
    }
    return [found[rid] for rid in ids if rid in found]


def add_qualifications(rows: list[Any], today: date) -> None:
    """Fill in each row's verified, unexpired qualifications (one query for the whole page)."""
    by_id = {row.id: row for row in rows}
    if not by_id:
        return
    for rid, name in db.session.execute(
        select(ReservistQualification.reservist_id, Qualification.name)
        .join(Qualification, Qualification.id == ReservistQualification.qualification_id)
        .where(ReservistQualification.reservist_id.in_(list(by_id)), verified_now(today))
        .order_by(Qualification.name)
    ):
        by_id[rid].qualifications.append(name)
