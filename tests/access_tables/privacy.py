"""Route × role expectations of the privacy module (own data) and the CSV import.

The own-data routes take no id: each reservist only ever reaches their own
record, so every other role is refused. The import is for coordinators, who
import only within their scope (checked per row, not by the route).
"""

# fmt: off
#                                  anon res  stA  stB  coX  coY  nat  adm
EXPECTED: dict[str, str] = {
    "privacy.overview GET":         "LAFFFFFF",
    "privacy.export GET":           "LAFFFFFF",
    "privacy.erase GET":            "LAFFFFFF",
    "privacy.erase POST":           "LAFFFFFF",
    "imports.upload GET":           "LFFFAAAF",
    "imports.upload POST":          "LFFFAAAF",
    "imports.apply POST":           "LFFFAAAF",
}
# fmt: on
