"""Who may use which route: the checked-in expectation the route × role test walks.

One line per (endpoint, method). The string has one letter per role, in the
order of ``ROLES``:

    A  allowed: the view answered (any status below 500 except 403/404 and
       the redirect to the login page)
    L  redirected to the login page (not signed in)
    F  403 forbidden
    N  404 not found (a token or id that is not theirs or not valid)

A new route without a line here fails the test: decide who may use it.
"""

ROLES = (
    "anonymous",
    "reservist",
    "staff_a",
    "staff_b",
    "coordinator_x",
    "coordinator_y",
    "national",
    "admin",
)

# fmt: off
#                                           anon res  stA  stB  coX  coY  nat  adm
EXPECTED: dict[str, str] = {
    "static GET":                            "AAAAAAAA",
    "core.home GET":                         "AAAAAAAA",
    "core.health GET":                       "AAAAAAAA",
    "core.language POST":                    "AAAAAAAA",
    "core.dashboard GET":                    "LAAAAAAA",
    "accounts.signup GET":                   "AAAAAAAA",
    "accounts.signup POST":                  "AAAAAAAA",
    "accounts.verify_email GET":             "AAAAAAAA",
    "accounts.resend_verification POST":     "AAAAAAAA",
    "accounts.login GET":                    "AAAAAAAA",
    "accounts.login POST":                   "AAAAAAAA",
    "accounts.second_factor GET":            "AAAAAAAA",
    "accounts.second_factor POST":           "AAAAAAAA",
    "accounts.enrol GET":                    "AAAAAAAA",
    "accounts.enrol POST":                   "AAAAAAAA",
    "accounts.logout POST":                  "AAAAAAAA",
    "accounts.forgot_password GET":          "AAAAAAAA",
    "accounts.forgot_password POST":         "AAAAAAAA",
    "accounts.reset_password GET":           "NNNNNNNN",
    "accounts.reset_password POST":          "NNNNNNNN",
    "accounts.activate GET":                 "NNNNNNNN",
    "accounts.activate POST":                "NNNNNNNN",
    "accounts.accept_invitation GET":        "NNNNNNNN",
    "accounts.accept_invitation POST":       "NNNNNNNN",
    "accounts.invite GET":                   "LFFFAAAA",
    "accounts.invite POST":                  "LFFFAAAA",
    "accounts.account GET":                  "LAAAAAAA",
    "accounts.users GET":                    "LFFFFFFA",
}
# fmt: on


def _merge_module_tables() -> None:
    """Add the tables of tests/access_tables/*.py (one per domain module)."""
    import importlib
    import pkgutil

    from tests import access_tables

    for module in pkgutil.iter_modules(access_tables.__path__):
        table = importlib.import_module(f"tests.access_tables.{module.name}").EXPECTED
        clash = set(table) & set(EXPECTED)
        assert not clash, f"routes listed twice: {sorted(clash)}"
        EXPECTED.update(table)


_merge_module_tables()
