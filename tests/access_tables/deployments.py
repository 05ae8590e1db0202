"""Route × role expectations of deployment requests.

Institution staff make and change requests; coordinators decide and follow them;
administrators have no part in requests. Id routes are built with ids no request
or shift has, so everyone who passes the role check gets 404 — the answer a
foreign id gives too (tests/test_deployments_pages.py checks real ids).
"""

# fmt: off
#                                              anon res  stA  stB  coX  coY  nat  adm
EXPECTED: dict[str, str] = {
    "deployments.index GET":                    "LFAAFFFF",
    "deployments.create GET":                   "LFAAFFFF",
    "deployments.create POST":                  "LFAAFFFF",
    "deployments.overview GET":                 "LFFFAAAF",
    "deployments.detail GET":                   "LFNNNNNF",
    "deployments.edit GET":                     "LFNNFFFF",
    "deployments.edit POST":                    "LFNNFFFF",
    "deployments.submit POST":                  "LFNNFFFF",
    "deployments.headcount POST":               "LFNNFFFF",
    "deployments.add_shifts GET":               "LFNNFFFF",
    "deployments.add_shifts POST":              "LFNNFFFF",
    "deployments.cancel_shift GET":             "LFNNFFFF",
    "deployments.cancel_shift POST":            "LFNNFFFF",
    "deployments.shift_places POST":            "LFNNFFFF",
    "deployments.cancel GET":                   "LFNNNNNF",
    "deployments.cancel POST":                  "LFNNNNNF",
    "deployments.close POST":                   "LFNNNNNF",
    "deployments.approve POST":                 "LFFFNNNF",
    "deployments.reject POST":                  "LFFFNNNF",
}
# fmt: on
