"""Route × role expectations of the coordination module (search, reservist page, export, access log).

The registry pages are for regional and national coordinators; administrators
manage the platform, not reservists, and are refused. Routes that take a
reservist id are walked with ``reservist_id=0`` (see ``SAMPLE_ARGS`` in
tests/test_access.py), which is nobody: 404 for every coordinator. Scope and
IDOR (another region's reservist) are tested with real ids in
tests/test_coordination.py. ``/me/access-log`` is the reservist's own view of
who accessed their data.
"""

# fmt: off
#                                                anon res  stA  stB  coX  coY  nat  adm
EXPECTED: dict[str, str] = {
    "coordination.search GET":                    "LFFFAAAF",
    "coordination.search POST":                   "LFFFAAAF",
    "coordination.export POST":                   "LFFFAAAF",
    "coordination.detail GET":                    "LFFFNNNF",
    "coordination.reservist_access_log GET":      "LFFFNNNF",
    "coordination.access_log GET":                "LFFFFFAF",
    "access_log.mine GET":                        "LAFFFFFF",
}
# fmt: on
