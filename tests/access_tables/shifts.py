"""Route × role expectations of the shifts module (the reservist's own shifts and calendar feed).

Id routes are built with booking id 1, which no booking of the signed-in
reservist has, so the reservist gets 404 — the answer another reservist's
booking gives too (tests/test_shifts.py checks real ids). The calendar feed is
public: its token is the credential, and the sample token opens nothing. The
roster routes are for institution staff (recording) and regional coordinators
(reading); request id 1 is outside everyone's scope, so they answer 404. The
printable check-in code of a shift is for the request's institution staff only.
The today/tomorrow page is for coordinators (their own scope, no ids); the
self check-in page takes no id: a code only opens the reservist's own booking.
"""

# fmt: off
#                                  anon res  stA  stB  coX  coY  nat  adm
EXPECTED: dict[str, str] = {
    "shifts.mine GET":              "LAFFFFFF",
    "shifts.detail GET":            "LNFFFFFF",
    "shifts.cancel GET":            "LNFFFFFF",
    "shifts.cancel POST":           "LNFFFFFF",
    "shifts.feed_settings GET":     "LAFFFFFF",
    "shifts.feed_settings POST":    "LAFFFFFF",
    "shifts.feed_revoke POST":      "LAFFFFFF",
    "shifts.feed GET":              "NNNNNNNN",
    "shifts.hours GET":             "LAFFFFFF",
    "shifts.certificate GET":       "LAFFFFFF",
    "shifts.roster_page GET":       "LFNNNNNF",
    "shifts.roster_check_in POST":  "LFNNFFFF",
    "shifts.roster_check_out POST": "LFNNFFFF",
    "shifts.roster_no_show POST":   "LFNNFFFF",
    "shifts.roster_confirm POST":   "LFNNFFFF",
    "shifts.roster_confirm_shift POST": "LFNNFFFF",
    "shifts.roster_correct GET":    "LFNNNNNF",
    "shifts.roster_correct POST":   "LFNNNNNF",
    "shifts.timesheet_csv GET":     "LFNNNNNF",
    "shifts.timesheet_xlsx GET":    "LFNNNNNF",
    "shifts.day_roster GET":        "LFNNNNNF",
    "shifts.institution_timesheet_csv GET":  "LFNNNNNF",
    "shifts.institution_timesheet_xlsx GET": "LFNNNNNF",
    "shifts.today GET":             "LFFFAAAF",
    "shifts.self_check_in GET":     "LAFFFFFF",
    "shifts.self_check_in POST":    "LAFFFFFF",
    "shifts.checkin_code GET":      "LFNNFFFF",
}
# fmt: on
