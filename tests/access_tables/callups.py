"""Route × role expectations of the call-up pages (waves, offers, answers, SMS webhooks).

The answer link is public: the token is the credential, and an invalid one is a
404 for everyone. The SMS webhooks (generic and Vonage's) are public but signed:
unsigned deliveries are 403.
The per-request call-up page follows the request's scope (request 1 does not
exist in the access test, hence 404 for those who may use the route at all);
only coordinators control call-ups.
"""

# fmt: off
#                                         anon res  stA  stB  coX  coY  nat  adm
EXPECTED: dict[str, str] = {
    "callups.answer GET":                  "NNNNNNNN",
    "callups.answer POST":                 "NNNNNNNN",
    "callups.sms_inbound POST":            "FFFFFFFF",
    "callups.sms_status POST":             "FFFFFFFF",
    "callups.vonage_inbound GET":          "FFFFFFFF",
    "callups.vonage_inbound POST":         "FFFFFFFF",
    "callups.vonage_status GET":           "FFFFFFFF",
    "callups.vonage_status POST":          "FFFFFFFF",
    "callups.request_callups GET":         "LFNNNNNF",
    "callups.pause POST":                  "LFFFNNNF",
    "callups.resume POST":                 "LFFFNNNF",
    "callups.stop POST":                   "LFFFNNNF",
    "callups.next_wave POST":              "LFFFNNNF",
}
# fmt: on
