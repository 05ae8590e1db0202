"""Route × role expectations of the verification module (coordinators' queue and decisions).

Only regional and national coordinators verify. The item routes take an id: the
walk uses id 1, which no coordinator has in scope, so they answer 404; the
tests in tests/test_verification.py try real ids of other regions.
"""

# fmt: off
#                                                  anon res  stA  stB  coX  coY  nat  adm
EXPECTED: dict[str, str] = {
    "verification.queue GET":                       "LFFFAAAF",
    "verification.big_item GET":                    "LFFFNNNF",
    "verification.verify_big POST":                 "LFFFNNNF",
    "verification.reject_big POST":                 "LFFFNNNF",
    "verification.qualification_item GET":          "LFFFNNNF",
    "verification.verify_qualification POST":       "LFFFNNNF",
    "verification.reject_qualification POST":       "LFFFNNNF",
}
# fmt: on
