"""Findings and passed rules in words, in the language of the current context.

Like :func:`zorgreserve.matching.worktime.explain`, Flask-Babel is imported when
a text is made, not when the module is: the engine runs without Flask, and
outside an application context the English source text is returned.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from zorgreserve.matching import worktime
from zorgreserve.matching.eligibility import Finding, Rule


def _date(value: date | None) -> str:
    from flask import has_app_context
    from flask_babel import format_date

    if value is None:
        return "—"
    if has_app_context():
        return format_date(value, "d MMM yyyy")
    return value.isoformat()


def _km(value: float) -> str:
    from flask import has_app_context
    from flask_babel import format_decimal

    if has_app_context():
        return format_decimal(round(value, 1), format="#,##0.#")
    return f"{round(value, 1):g}"


def rule_name(code: str) -> str:
    """The rule's short name, for headings and tables."""
    from flask_babel import gettext as _

    names = {
        Rule.ACTIVE: _("Active"),
        Rule.QUALIFICATION: _("Qualification"),
        Rule.BIG_REGISTRATION: _("BIG registration"),
        Rule.SKILLS: _("Skills"),
        Rule.REGION_POLICY: _("Region policy"),
        Rule.SURGE_DRAIN: _("Surge phase of home region"),
        Rule.DISTANCE: _("Travel distance"),
        Rule.NO_OVERLAP: _("No overlap"),
        Rule.AVAILABILITY: _("Availability"),
        Rule.WORKING_TIME: _("Working-time rules"),
    }
    return names.get(code, code)


def passed(code: str, context: dict[str, Any]) -> str:
    """Why a rule passed, in one sentence."""
    from flask_babel import gettext as _

    if code == Rule.ACTIVE:
        return _("Active on the day of the shift.")
    if code == Rule.QUALIFICATION:
        return _(
            "Holds a verified, valid qualification that counts as %(name)s.", name=context["qualification"]
        )
    if code == Rule.BIG_REGISTRATION:
        if context.get("profession") is None:
            return _("This qualification needs no BIG registration.")
        return _(
            "Verified BIG registration as %(name)s, not due for re-registration.", name=context["profession"]
        )
    if code == Rule.SKILLS:
        return _("Has every required skill.") if context.get("skills") else _("No skills are required.")
    if code == Rule.REGION_POLICY:
        return _("Within the regions this call-up may reach.")
    if code == Rule.SURGE_DRAIN:
        return _("The home region is not at a higher surge phase than the requesting region.")
    if code == Rule.DISTANCE:
        return _("%(km)s km away, within the reservist's maximum travel distance.", km=_km(context["km"]))
    if code == Rule.NO_OVERLAP:
        return _("No booked or offered shift at the same time.")
    if code == Rule.AVAILABILITY:
        return _("The shift lies inside the declared availability.")
    if code == Rule.WORKING_TIME:
        return _("The shift keeps every working-time rule.")
    return code


def failed(finding: Finding) -> str:
    """Why a rule failed, in one or more sentences."""
    from flask_babel import gettext as _

    f, r = finding.facts, finding.reason
    match finding.rule:
        case Rule.ACTIVE:
            if r == "erased":
                return _("The reservist's data was erased.")
            if r == "withdrawn":
                return _("The reservist has withdrawn from the reserve.")
            return _("The reservist is paused until %(day)s.", day=_date(f.get("until")))
        case Rule.QUALIFICATION:
            if r == "missing":
                return _("Holds no qualification that counts as %(name)s.", name=f["name"])
            if r == "unverified":
                return _("The qualification that counts as %(name)s is not verified.", name=f["name"])
            return _(
                "The qualification that counts as %(name)s expired on %(day)s.",
                name=f["name"],
                day=_date(f["on"]),
            )
        case Rule.BIG_REGISTRATION:
            if r == "missing":
                return _("No BIG registration as %(name)s.", name=f["name"])
            if r == "unverified":
                return _("The BIG registration as %(name)s is not verified.", name=f["name"])
            return _(
                "The BIG registration as %(name)s was due for re-registration on %(day)s.",
                name=f["name"],
                day=_date(f["on"]),
            )
        case Rule.SKILLS:
            return _("Missing required skills: %(names)s.", names=", ".join(f["names"]))
        case Rule.REGION_POLICY:
            if r == "neighbours":
                return _(
                    "Neither lives in nor serves the requesting region or a neighbouring one, "
                    "and this call-up reaches no further."
                )
            return _(
                "Neither lives in nor serves the requesting region, and this call-up reaches no further."
            )
        case Rule.SURGE_DRAIN:
            return _(
                "The home region is at a higher surge phase than the requesting region; "
                "only a national coordinator can allow this."
            )
        case Rule.DISTANCE:
            if r == "no_home":
                return _("No home postcode, so the distance is unknown.")
            if r == "too_far":
                return _(
                    "%(km)s km away; the reservist travels at most %(limit)s km.",
                    km=_km(f["km"]),
                    limit=_km(f["limit"]),
                )
            return _(
                "%(km)s km away; this call-up reaches %(limit)s km.", km=_km(f["km"]), limit=_km(f["limit"])
            )
        case Rule.NO_OVERLAP:
            if r == "same_booked":
                return _("Already booked on this shift.")
            if r == "same_held":
                return _("This shift is already offered to the reservist.")
            if r == "booked":
                return _("Overlaps a booked shift.")
            return _("Overlaps a shift already offered to the reservist.")
        case Rule.AVAILABILITY:
            return _("The shift does not lie wholly inside the declared availability.")
        case Rule.WORKING_TIME:
            return " ".join(worktime.explain(v) for v in f["violations"])
    return finding.reason
