"""Route × role expectations of surge phases.

Every coordinator and administrator reads phases, history and policy; declaring
is for coordinators (the scope is checked per declaration); phase policy is
edited by national coordinators only. ``code`` is built as "1", a real phase.
"""

# fmt: off
#                                              anon res  stA  stB  coX  coY  nat  adm
EXPECTED: dict[str, str] = {
    "surge.overview GET":                       "LFFFAAAA",
    "surge.declare GET":                        "LFFFAAAF",
    "surge.declare POST":                       "LFFFAAAF",
    "surge.history GET":                        "LFFFAAAA",
    "surge.phases GET":                         "LFFFAAAA",
    "surge.edit_phase GET":                     "LFFFFFAF",
    "surge.edit_phase POST":                    "LFFFFFAF",
}
# fmt: on
