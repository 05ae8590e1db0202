"""Route × role expectations of the matching pages.

Only coordinators see candidates: the regional coordinator of the request's region
and national coordinators. The id routes are built with an id no request has, so
coordinators get 404 — the answer another region's request gives too
(tests/test_matching_pages.py checks real ids).
"""

# fmt: off
#                                              anon res  stA  stB  coX  coY  nat  adm
EXPECTED: dict[str, str] = {
    "matching.candidates GET":                  "LFFFNNNF",
    "matching.candidates POST":                 "LFFFNNNF",
}
# fmt: on
