"""Send sequences the other tests never drive (issue 12): batches whose
email/SMS mix changes from one to the next, more connections or slots than
messages, handles reused across batches.  Each ran into memory or state
errors that the ASan/UBSan build reports (any report fails a test).
"""

from conftest import shift
from test_sms import DUE, T, configure, once, person, twilio  # noqa: F401


def test_sms_slots_added_after_a_batch_with_one_sms(practice, smtp, twilio):
    """sms.concurrency = 4, and the first batch of the pass holds one SMS
    among email: one slot (easy handle) is made for it.  The next batch,
    all SMS, makes three more.  The first slot's handle holds its slot's
    address (READDATA, WRITEDATA, SEEKDATA, the error buffer): the slots
    must not move when more are made (before, they did, and its next SMS
    read freed memory)."""
    configure(practice, twilio, sms={"concurrency": 4},
              reminders=[{"before": "3h", "channel": "email"},
                         {"before": "3h", "channel": "sms"}], late_limit="2h")
    _, case = person(practice, "Client S0", "07700 900100")
    practice.book(case, T)
    for i in range(15):
        _, case = person(practice, f"Client E{i}", None,
                         email=f"e{i}@example.org", sms_consent=0)
        practice.book(case, shift(T, minutes=1))
    for i in range(20):
        _, case = person(practice, f"Client S{i + 1}", f"07700 9002{i:02d}")
        practice.book(case, shift(T, minutes=30))
    once(practice, shift(DUE, minutes=35))
    assert len(twilio.messages) == 21
    got = sorted(r for m in smtp.messages for r in m["rcpt_tos"])
    assert got == sorted(f"e{i}@example.org" for i in range(15)), got
    rows = practice.messages("purpose = 'reminder'")
    assert {x["status"] for x in rows} == {"sent"}, rows
