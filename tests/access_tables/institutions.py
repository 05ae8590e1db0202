"""Route × role expectations of the institutions module.

The list and creation are for coordinators and administrators. An institution's
own pages are also for its staff; the test builds id routes with an id no
institution has, so everyone who passes the role check gets 404 — the same
answer a foreign id gives (tests/test_institutions.py checks real ids).
"""

# fmt: off
#                                              anon res  stA  stB  coX  coY  nat  adm
EXPECTED: dict[str, str] = {
    "institutions.index GET":                   "LFFFAAAA",
    "institutions.create GET":                  "LFFFAAAA",
    "institutions.create POST":                 "LFFFAAAA",
    "institutions.mine GET":                    "LFAAFFFF",
    "institutions.detail GET":                  "LFNNNNNN",
    "institutions.edit GET":                    "LFFFNNNN",
    "institutions.edit POST":                   "LFFFNNNN",
    "institutions.location_create GET":         "LFNNNNNN",
    "institutions.location_create POST":        "LFNNNNNN",
    "institutions.location_edit GET":           "LFNNNNNN",
    "institutions.location_edit POST":          "LFNNNNNN",
}
# fmt: on
