"""A rule taken out of the config while another rule with the same lead
(before) stays on the other channel.  nudged.conf(5): "A rule is known in
the outbox by its before or after and its channel ... pending messages of
a rule that was removed, and never tried, are cancelled."  plan_stale and
the claim's re-check (plan.c, plan_rule_exists) compare only the key
("b172800"), not the channel, so the removed SMS rule's pending rows are
kept and sent."""

from conftest import shift
from test_sms import RETRY, configure, reqs_to, sms_group, solo, SAM_E164
from test_sms import twilio  # noqa: F401  (fixture)

T = "2026-12-03T14:00:00Z"
BOTH = [{"before": "48h", "channel": "email"},
        {"before": "48h", "channel": "sms"},
        {"before": "3h", "channel": "sms"}]
NO_48H_SMS = [{"before": "48h", "channel": "email"},
              {"before": "3h", "channel": "sms"}]


def test_sms_rule_gone_same_lead_as_email_rule(practice, smtp, twilio):  # noqa: F811
    configure(practice, twilio, reminders=BOTH)
    solo(practice)
    r = practice.once(shift(T, hours=-72))
    assert r.returncode == 0, r.stderr
    sms48 = practice.messages("channel = 'sms' AND rule = 'b172800'")
    assert [m["status"] for m in sms48] == ["pending"], practice.messages()
    practice.write_conf(sms=sms_group(twilio), reminders=NO_48H_SMS,
                        retry=RETRY)
    r = practice.once(shift(T, hours=-60))                  # the reload
    assert r.returncode == 0, r.stderr
    sms48 = practice.messages("channel = 'sms' AND rule = 'b172800'")
    assert [(m["status"], m["last_error"]) for m in sms48] == \
        [("cancelled", "its rule is no longer in the config")], sms48
    r = practice.once(shift(T, hours=-48, seconds=30))      # 30 s after due
    assert r.returncode == 0, r.stderr
    assert reqs_to(twilio, SAM_E164) == [], twilio.requests
