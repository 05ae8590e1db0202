"""Route × role expectations of the availability module (the reservist's own times).

Only reservists, and only their own record: the routes with an id answer 404
for a window or period that is not theirs (the test uses id 1, which belongs to
no one). Every other role is refused.
"""

# fmt: off
#                                                anon res  stA  stB  coX  coY  nat  adm
EXPECTED: dict[str, str] = {
    "availability.overview GET":                  "LAFFFFFF",
    "availability.standby_on POST":               "LAFFFFFF",
    "availability.standby_off POST":              "LAFFFFFF",
    "availability.add_window GET":                "LAFFFFFF",
    "availability.add_window POST":               "LAFFFFFF",
    "availability.edit_window GET":               "LNFFFFFF",
    "availability.edit_window POST":              "LNFFFFFF",
    "availability.delete_window POST":            "LNFFFFFF",
    "availability.add_preset POST":               "LAFFFFFF",
    "availability.add_period GET":                "LAFFFFFF",
    "availability.add_period POST":               "LAFFFFFF",
    "availability.delete_period POST":            "LNFFFFFF",
}
# fmt: on
