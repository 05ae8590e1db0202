"""Route × role expectations of the reference data pages.

National coordinators and administrators read every page; only administrators
change anything (edit forms and their POSTs). Everyone else is refused.
"""

# fmt: off
#                                           anon res  stA  stB  coX  coY  nat  adm
EXPECTED: dict[str, str] = {
    "reference.index GET":                   "LFFFFFAA",
    "reference.region GET":                  "LFFFFFAA",
    "reference.move_municipality POST":      "LFFFFFFA",
    "reference.postcode GET":                "LFFFFFAA",
    "reference.qualifications GET":          "LFFFFFAA",
    "reference.edit_qualification GET":      "LFFFFFFA",
    "reference.edit_qualification POST":     "LFFFFFFA",
    "reference.skills GET":                  "LFFFFFAA",
    "reference.add_skill GET":               "LFFFFFFA",
    "reference.add_skill POST":              "LFFFFFFA",
    "reference.edit_skill GET":              "LFFFFFFA",
    "reference.edit_skill POST":             "LFFFFFFA",
    "reference.surge_phases GET":            "LFFFFFAA",
}
# fmt: on
