"""Route × role expectations of deployment approval (coordinators only).

Id routes are built with ids no booking or request has, so coordinators get 404 —
the answer another region's booking gives too (tests/test_approval.py checks real ids).
"""

# fmt: off
#                                              anon res  stA  stB  coX  coY  nat  adm
EXPECTED: dict[str, str] = {
    "approvals.index GET":                      "LFFFAAAF",
    "approvals.approve POST":                   "LFFFNNNF",
    "approvals.reject GET":                     "LFFFNNNF",
    "approvals.reject POST":                    "LFFFNNNF",
    "approvals.approve_request POST":           "LFFFNNNF",
}
# fmt: on
