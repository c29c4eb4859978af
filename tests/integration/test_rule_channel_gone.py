"""A rule taken out of the config while another rule with the same lead
(before) stays on the other channel.  nudged.conf(5): "A rule is known in
the outbox by its before or after and its channel ... pending messages of
a rule that was removed, and never tried, are cancelled."  plan.c judged
by the key alone ("b172800"), so the removed rule's pending rows were
kept and sent.  An email row that stands in for a failed SMS (the SMS
rule's key, sms.fallback_email) is that SMS rule's: test_plan.c
test_rule_gone_by_channel."""

from conftest import client_mails, shift
from test_sms import RETRY, configure, reqs_to, sms_group, solo, SAM_E164
from test_sms import twilio  # noqa: F401  (fixture)

T = "2026-12-03T14:00:00Z"
BOTH = [{"before": "48h", "channel": "email"},
        {"before": "48h", "channel": "sms"},
        {"before": "3h", "channel": "sms"}]
NO_48H_SMS = [{"before": "48h", "channel": "email"},
              {"before": "3h", "channel": "sms"}]


GONE = "its rule is no longer in the config"
NO_48H_EMAIL = [{"before": "48h", "channel": "sms"},
                {"before": "3h", "channel": "sms"}]


def reload_without(practice, twilio, reminders):
    """Sam's appointment planned at T - 72h under BOTH, then the config
    reloaded with reminders at T - 60h (a whole pass)."""
    configure(practice, twilio, reminders=BOTH)
    solo(practice)
    r = practice.once(shift(T, hours=-72))
    assert r.returncode == 0, r.stderr
    assert len(practice.messages("rule = 'b172800' AND status = 'pending'")) \
        == 2, practice.messages()                           # email and SMS
    practice.write_conf(sms=sms_group(twilio), reminders=reminders,
                        retry=RETRY)
    r = practice.once(shift(T, hours=-60))                  # the reload
    assert r.returncode == 0, r.stderr


def test_sms_rule_gone_same_lead_as_email_rule(practice, smtp, twilio):  # noqa: F811
    reload_without(practice, twilio, NO_48H_SMS)
    sms48 = practice.messages("channel = 'sms' AND rule = 'b172800'")
    assert [(m["status"], m["last_error"]) for m in sms48] == \
        [("cancelled", GONE)], sms48
    r = practice.once(shift(T, hours=-48, seconds=30))      # 30 s after due
    assert r.returncode == 0, r.stderr
    assert reqs_to(twilio, SAM_E164) == [], twilio.requests
    assert len(client_mails(smtp)) == 1, [m["rcpt_tos"] for m in smtp.messages]


def test_email_rule_gone_same_lead_as_sms_rule(practice, smtp, twilio):  # noqa: F811
    """The mirror: the 48h email rule out, the 48h SMS rule kept (with the
    email fallback on, as by default).  The 48h email is no SMS's
    fallback (no SMS of it failed), so it is cancelled at the reload and
    only the SMS goes."""
    reload_without(practice, twilio, NO_48H_EMAIL)
    email48 = practice.messages("channel = 'email' AND rule = 'b172800'")
    assert [(m["status"], m["last_error"]) for m in email48] == \
        [("cancelled", GONE)], email48
    r = practice.once(shift(T, hours=-48, seconds=30))      # 30 s after due
    assert r.returncode == 0, r.stderr
    assert client_mails(smtp) == [], [m["rcpt_tos"] for m in smtp.messages]
    assert len(reqs_to(twilio, SAM_E164)) == 1, twilio.requests
