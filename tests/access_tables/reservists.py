"""Route × role expectations of the reservists module (the reservist's own record).

The own pages (``/me``) are for reservists only and always show their own
record; the ids in their URLs are looked up inside that record, so the sample
id 1, which is nobody's item of the cast's reservist, answers 404. Coordinators
download evidence through ``/reservists/<id>/evidence/<id>``, in their scope
only (404 outside it; the cast's reservist has no document); administrators
and institution staff have no business with a reservist's documents.
"""

# fmt: off
#                                              anon res  stA  stB  coX  coY  nat  adm
EXPECTED: dict[str, str] = {
    "reservists.overview GET":                  "LAFFFFFF",
    "reservists.profile GET":                   "LAFFFFFF",
    "reservists.profile POST":                  "LAFFFFFF",
    "reservists.big GET":                       "LAFFFFFF",
    "reservists.big POST":                      "LAFFFFFF",
    "reservists.big_edit GET":                  "LNFFFFFF",
    "reservists.big_edit POST":                 "LNFFFFFF",
    "reservists.big_remove POST":               "LNFFFFFF",
    "reservists.qualifications GET":            "LAFFFFFF",
    "reservists.qualification_add GET":         "LAFFFFFF",
    "reservists.qualification_add POST":        "LAFFFFFF",
    "reservists.qualification_edit GET":        "LNFFFFFF",
    "reservists.qualification_edit POST":       "LNFFFFFF",
    "reservists.qualification_remove POST":     "LNFFFFFF",
    "reservists.evidence GET":                  "LNFFFFFF",
    "reservists.evidence_for_coordinator GET":  "LFFFNNNF",
    "reservists.skills GET":                    "LAFFFFFF",
    "reservists.skills POST":                   "LAFFFFFF",
    "reservists.trainings GET":                 "LAFFFFFF",
    "reservists.trainings POST":                "LAFFFFFF",
    "reservists.training_edit GET":             "LNFFFFFF",
    "reservists.training_edit POST":            "LNFFFFFF",
    "reservists.training_remove POST":          "LNFFFFFF",
    "reservists.status GET":                    "LAFFFFFF",
    "reservists.status POST":                   "LAFFFFFF",
}
# fmt: on
