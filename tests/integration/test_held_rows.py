"""A row nudged cannot read at send time holds its messages, never cancels
them: the contract's "reported and skipped", nothing lost.  The message
stays pending, the row is reported (log, digest), the pass goes on, and
the first pass after the row is fixed sends it (within late_limit).

The row goes bad either before the pass (its plan step reports it) or
between the plan step and the send loop: a trigger the test puts on the
state table does that, at the plan step's last write (state plan.pass)."""

from conftest import PRACTICE_EMAIL, mails_to, shift, text_body

T = "2026-12-03T14:00:00Z"          # Thursday 14:00 GMT
DUE_48H = shift(T, hours=-48)
PLANNED = shift(DUE_48H, hours=-2)  # the rows exist, nothing is due
SAM, ALEX = "sam@example.org", "alex@example.org"


def corrupt_after_planning(practice, sql):
    """sql runs inside the pass, after its plan step, before it sends."""
    for op in ("INSERT", "UPDATE"):
        practice.set(f"CREATE TRIGGER test_bad_{op.lower()} AFTER {op} ON state"
                     f" WHEN NEW.key = 'plan.pass' BEGIN {sql}; END")


def drop_trigger(practice):
    practice.set("DROP TRIGGER test_bad_insert")
    practice.set("DROP TRIGGER test_bad_update")


def reminder(practice, client):
    [row] = practice.messages("client_id = ? AND purpose = 'reminder'", client)
    return row


def assert_held(practice, r, client, table, row_id):
    assert r.returncode == 0, r.stderr          # reported and skipped: 0, not 75
    row = reminder(practice, client)
    assert row["status"] == "pending", row
    assert row["attempts"] == 0, row
    # the same reason whichever step met the row first (no address in it)
    assert row["last_error"] == f"held: {table} row {row_id} cannot be read", row
    assert f"skipping {table} row {row_id}:" in r.stderr, r.stderr
    assert r.stderr.count(f"skipping {table} row {row_id}:") == 1, r.stderr
    for addr in (SAM, ALEX):
        assert addr not in r.stderr
    # the pass's summary says what waits on the row (not "pending": exit 0)
    held = len(practice.messages("status = 'pending' AND last_error LIKE 'held:%'"))
    [done] = [l for l in r.stderr.splitlines() if "pass done" in l]
    assert f"0 still pending, {held} held by a row that cannot be read" \
        " (nudgectl problems)" in done, done
    [alert] = mails_to(practice.smtp, PRACTICE_EMAIL)
    assert str(row_id) in text_body(alert)


def test_start_unreadable_at_send_time_is_held_then_sent(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    assert ready.once(PLANNED).returncode == 0
    corrupt_after_planning(ready, "UPDATE appointments SET starts_at ="
                           f" 'next tuesday' WHERE id = {appt}")
    r = ready.once(DUE_48H)
    assert_held(ready, r, sam, "appointments", appt)
    assert reminder(ready, alex)["status"] == "pending"
    assert mails_to(smtp, SAM) == [] and mails_to(smtp, ALEX) == []
    drop_trigger(ready)
    ready.set("UPDATE appointments SET starts_at = ? WHERE id = ?", T, appt)
    r = ready.once(shift(DUE_48H, minutes=1))
    assert r.returncode == 0, r.stderr
    assert len(mails_to(smtp, SAM)) == 1 and len(mails_to(smtp, ALEX)) == 1
    assert reminder(ready, sam)["status"] == "sent"
    assert reminder(ready, sam)["last_error"] is None


def test_client_unreadable_at_send_time_is_held_then_sent(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    assert ready.once(PLANNED).returncode == 0
    corrupt_after_planning(ready, "UPDATE clients SET email_consent = 'yes'"
                           f" WHERE id = {sam}")
    r = ready.once(DUE_48H)
    assert_held(ready, r, sam, "clients", sam)
    # the partner's message is not held with it
    assert len(mails_to(smtp, ALEX)) == 1 and mails_to(smtp, SAM) == []
    drop_trigger(ready)
    ready.set("UPDATE clients SET email_consent = 1 WHERE id = ?", sam)
    r = ready.once(shift(DUE_48H, minutes=1))
    assert r.returncode == 0, r.stderr
    assert len(mails_to(smtp, SAM)) == 1 and len(mails_to(smtp, ALEX)) == 1


def test_blank_name_is_held_not_sent_as_hello_comma(ready, smtp):
    """A booking tool wrote a name of blanks: the reminder would open
    "Hello ,".  The row cannot be read: reported once, the message held,
    and sent by the first pass after the name is fixed."""
    sam, alex, case, appt = ready.couple(T)
    assert ready.once(PLANNED).returncode == 0
    ready.set("UPDATE clients SET name = '   ', first_name = ' ' WHERE id = ?",
              sam)
    r = ready.once(DUE_48H)
    assert_held(ready, r, sam, "clients", sam)
    assert f"skipping clients row {sam}: name is blank" in r.stderr, r.stderr
    assert len(mails_to(smtp, ALEX)) == 1 and mails_to(smtp, SAM) == []
    # a first name does not make up for it: the To line would be blank
    ready.set("UPDATE clients SET first_name = 'Sam' WHERE id = ?", sam)
    r = ready.once(shift(DUE_48H, seconds=30))
    assert r.returncode == 0, r.stderr
    assert mails_to(smtp, SAM) == []
    ready.set("UPDATE clients SET name = 'Sam Jones', first_name = NULL"
              " WHERE id = ?", sam)
    r = ready.once(shift(DUE_48H, minutes=1))
    assert r.returncode == 0, r.stderr
    [m] = mails_to(smtp, SAM)
    assert "Sam," in text_body(m) and " ," not in text_body(m)


def test_unreadable_before_the_pass_is_held_not_cancelled(ready, smtp):
    """The plan step meets it first: it cancels nothing, nor does the send loop."""
    sam, alex, case, appt = ready.couple(T)
    assert ready.once(PLANNED).returncode == 0
    ready.set("UPDATE appointments SET starts_at = '3rd December' WHERE id = ?",
              appt)
    r = ready.once(DUE_48H)
    assert_held(ready, r, sam, "appointments", appt)
    # a later pass while it is still bad: still held, not reported again
    r = ready.once(shift(DUE_48H, minutes=5))
    assert r.returncode == 0, r.stderr
    assert "skipping appointments row" not in r.stderr
    assert reminder(ready, sam)["status"] == "pending"
    assert len(mails_to(smtp, PRACTICE_EMAIL)) == 1
    ready.set("UPDATE appointments SET starts_at = ? WHERE id = ?", T, appt)
    assert ready.once(shift(DUE_48H, minutes=6)).returncode == 0
    assert len(mails_to(smtp, SAM)) == 1 and len(mails_to(smtp, ALEX)) == 1


def test_fixed_too_late_is_skipped(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    assert ready.once(PLANNED).returncode == 0
    ready.set("UPDATE appointments SET starts_at = 'soon' WHERE id = ?", appt)
    assert ready.once(DUE_48H).returncode == 0
    ready.set("UPDATE appointments SET starts_at = ? WHERE id = ?", T, appt)
    r = ready.once(shift(T, minutes=-30))       # inside late_limit (1h)
    assert r.returncode == 0, r.stderr
    assert mails_to(smtp, SAM) == []
    assert reminder(ready, sam)["status"] == "skipped"


def test_deleted_after_unreadable_is_cancelled(ready, smtp):
    sam, alex, case, appt = ready.couple(T)
    assert ready.once(PLANNED).returncode == 0
    ready.set("UPDATE appointments SET starts_at = 'x' WHERE id = ?", appt)
    assert ready.once(DUE_48H).returncode == 0
    assert reminder(ready, sam)["status"] == "pending"
    ready.set("DELETE FROM appointments WHERE id = ?", appt)
    r = ready.once(shift(DUE_48H, minutes=1))
    assert r.returncode == 0, r.stderr
    row = reminder(ready, sam)
    assert row["status"] == "cancelled", row
    assert row["last_error"] == "appointment no longer exists"
    assert mails_to(smtp, SAM) == []



def held_among(ready, hours, at=DUE_48H):
    """Sam and Alex's reminders (appointment at T) held by its bad start,
    noted by a pass at `at`; the case's other appointments, `hours` from T,
    pending.  (held ids, appt, {hours: their message ids})."""
    sam, alex, case, appt = ready.couple(T)
    others = {h: ready.book(case, shift(T, hours=h)) for h in hours}
    assert ready.once(PLANNED).returncode == 0
    ready.set("UPDATE appointments SET starts_at = '3rd December' WHERE id = ?",
              appt)
    assert ready.once(at).returncode == 0
    held = [m["id"] for m in ready.messages("appointment_id = ?", appt)]
    assert len(held) == 2
    return held, appt, {h: [m["id"] for m in ready.messages(
        "appointment_id = ?", a)] for h, a in others.items()}


def test_held_shown_by_upcoming(ready, smtp):
    """A held message waits: upcoming lists it with why (and no text: its
    row cannot be read)."""
    held, appt, later = held_among(ready, [2])
    nxt = later[2][0]
    r = ready.ctl("upcoming", "--now", shift(DUE_48H, minutes=1), "--days", "1")
    assert r.returncode == 0, r.stderr
    for mid in held:
        assert f"reminder, msg={mid}\n  HELD: appointments row {appt} cannot" \
            f" be read;" in r.stdout, r.stdout
    assert "s***@example.org" in r.stdout and SAM not in r.stdout
    # the other appointment's reminders are still rendered as before
    assert f"msg={nxt}\n  Subject:" in r.stdout, r.stdout


def test_held_not_named_next_by_status(ready, smtp):
    """status counts a held message as held and names as the next message
    the one that will actually go."""
    held, appt, later = held_among(ready, [2])
    nxt = later[2][0]
    r = ready.ctl("status")
    assert r.returncode == 1, r.stdout          # an unreadable row: attention
    assert "waiting:     4 messages (2 held by an unreadable row); next:" \
        f" message {nxt} by email" in r.stdout, r.stdout


def test_held_listed_in_due_order_by_upcoming(ready, smtp):
    """upcoming lists a held message where its due time puts it: after the
    messages due before it, before those due after it (not after all)."""
    held, appt, others = held_among(ready, [-1, 1],
                                    at=shift(PLANNED, minutes=1))
    r = ready.ctl("upcoming", "--now", shift(PLANNED, minutes=2), "--days", "1")
    assert r.returncode == 0, r.stderr
    due_order = others[-1] + held + others[1]
    place = {mid: r.stdout.index(f", msg={mid}\n") for mid in due_order}
    assert sorted(due_order, key=place.get) == due_order, r.stdout
    for mid in held:            # still with why, and no text
        assert f"reminder, msg={mid}\n  HELD: appointments row {appt} cannot" \
            f" be read;" in r.stdout, r.stdout
    assert r.stdout.count("  Subject:") == 4, r.stdout


def test_held_not_a_paused_channels_next_try(ready, smtp):
    """A paused channel's next try is when a message not held waits for:
    a held one is not tried at its due time.  When only held ones wait,
    status names no time at all."""
    held, appt, later = held_among(ready, [2])
    ready.set("INSERT INTO state (key, value) VALUES ('pause.email',"
              " '1 authentication refused')")
    r = ready.ctl("status")
    assert ("email        PAUSED: authentication refused; waiting: 4"
            " (2 held), next try 2026-12-01 16:00\n") in r.stdout, r.stdout
    ready.set("UPDATE messages SET status = 'cancelled' WHERE id IN (?, ?)",
              *later[2])
    r = ready.ctl("status")
    assert ("email        PAUSED: authentication refused; waiting: 2"
            " (2 held)\n") in r.stdout, r.stdout
    assert "next try" not in r.stdout and "; next:" not in r.stdout, r.stdout


def test_unreadable_partner_holds_words_that_name_them(ready, smtp):
    """An assessment reminder names the partner ({{partner_first_name}}):
    with Sam's row unreadable Alex's is held (not sent with the name left
    out), reported once; the first pass after the fix sends it, naming Sam."""
    sam, alex, case, appt = ready.couple(T, kind="assessment")
    assert ready.once(PLANNED).returncode == 0
    ready.set("UPDATE clients SET email_consent = 'yes' WHERE id = ?", sam)
    r = ready.once(DUE_48H)
    assert_held(ready, r, alex, "clients", sam)
    assert mails_to(smtp, ALEX) == []
    r = ready.once(shift(DUE_48H, minutes=5))       # still bad: still held
    assert r.returncode == 0, r.stderr
    assert "skipping clients row" not in r.stderr
    assert reminder(ready, alex)["status"] == "pending"
    ready.set("UPDATE clients SET email_consent = 1 WHERE id = ?", sam)
    assert ready.once(shift(DUE_48H, minutes=6)).returncode == 0
    [mail] = mails_to(smtp, ALEX)
    assert "It is for you and Sam" in text_body(mail)
    assert len(mails_to(smtp, SAM)) == 1


def partner_unreadable(ready):
    """A couple's assessment (its reminder names the partner), planned;
    then Sam's row goes bad and the pass at the due time holds Alex's."""
    sam, alex, case, appt = ready.couple(T, kind="assessment")
    assert ready.once(PLANNED).returncode == 0
    ready.set("UPDATE clients SET email_consent = 'yes' WHERE id = ?", sam)
    assert ready.once(DUE_48H).returncode == 0
    assert reminder(ready, alex)["status"] == "pending"
    return sam, alex


def test_unreadable_partner_fixed_too_late_is_skipped(ready, smtp):
    sam, alex = partner_unreadable(ready)
    ready.set("UPDATE clients SET email_consent = 1 WHERE id = ?", sam)
    r = ready.once(shift(T, minutes=-30))           # inside late_limit (1h)
    assert r.returncode == 0, r.stderr
    assert mails_to(smtp, ALEX) == []
    assert reminder(ready, alex)["status"] == "skipped"


def test_unreadable_partner_taken_out_of_the_case_holds_no_more(ready, smtp):
    sam, alex = partner_unreadable(ready)
    ready.set("DELETE FROM case_members WHERE client_id = ?", sam)
    assert ready.once(shift(DUE_48H, minutes=1)).returncode == 0
    [mail] = mails_to(smtp, ALEX)               # now for Alex alone
    assert "Sam" not in text_body(mail)


def test_one_batch_names_each_client_and_their_own_partner(ready, smtp):
    """Rows read for one message of a claim are shared with the next of the
    same case (issue 12): in a batch of several couples, and a client who
    also has a case alone, every email still greets its own client and
    names their own partner, or none."""
    pairs = [("Sam Taylor", "Alex Morgan"), ("Robin Shah", "Kim Lee"),
             ("Jo Park", "Lee Brown")]
    people = {}
    for a, b in pairs:
        ia = ready.add_client(a, email=a.split()[0].lower() + "@example.org")
        ib = ready.add_client(b, email=b.split()[0].lower() + "@example.org")
        case = ready.add_case(f"{a} & {b}", [ia, ib])
        ready.book(case, T, kind="assessment")
        people[a.split()[0]] = b.split()[0]
        people[b.split()[0]] = a.split()[0]
    sam = ready.query("SELECT id FROM clients WHERE name = 'Sam Taylor'")[0]["id"]
    alone = ready.add_case("Sam alone", [sam])
    ready.book(alone, shift(T, hours=2), kind="assessment")
    assert ready.once(PLANNED).returncode == 0
    r = ready.once(shift(DUE_48H, hours=2))
    assert r.returncode == 0, r.stderr
    for first, partner in people.items():
        mails = mails_to(smtp, first.lower() + "@example.org")
        texts = sorted(text_body(m) for m in mails)
        assert len(texts) == (2 if first == "Sam" else 1), (first, texts)
        together = [t for t in texts if "It is for you and" in t]
        assert len(together) == 1, (first, texts)
        assert f"Hello {first}," in together[0]
        assert f"It is for you and {partner}" in together[0], together[0]
        for t in texts:
            assert f"Hello {first}," in t
            others = set(people) - {first, partner}
            assert not any(f" {o}" in t for o in others), (first, t)
    [own] = [text_body(m) for m in mails_to(smtp, "sam@example.org")
             if "It is for you and" not in text_body(m)]
    assert "Alex" not in own, own
