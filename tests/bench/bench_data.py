"""A large, realistic practice database for nudged's benchmarks.

Deterministic (a fixed seed): the same arguments always give the same rows,
so two benchmark runs measure the same work.  Rows go in with plain sqlite3
the way a booking tool writes them, into a database `nudgectl init` made.

Shape (the defaults): 2,000 cases, 1,500 of them couples and 500 one
person (3,500 clients); each case has a weekly slot on a weekday between
09:00 and 19:45 local, for `weeks` weeks from `first_day` (an assessment
first, then sessions, the odd call; some online, a few cancelled); 500
active homework rows on open cases.  Client records are as messy as real
ones: phones typed in several ways, some without email, a few opted out,
some discreet, consent varying.  Most times are stored as UTC 'Z' strings;
some as '+HH:MM' offsets and some as bare local times, as tools differ.
"""

import datetime as dt
import random
import sqlite3
import zoneinfo

ZONE = zoneinfo.ZoneInfo("Europe/London")

FIRST = ["Sam", "Alex", "Jo", "Chris", "Priya", "Tom", "Aisha", "Ben", "Chloe",
         "Dan", "Ella", "Femi", "Grace", "Hamza", "Isla", "Jack", "Kiran",
         "Leah", "Mo", "Niamh", "Owen", "Poppy", "Raj", "Sian", "Theo", "Una",
         "Zoë", "Siobhán", "José", "Łucja"]
LAST = ["Taylor", "Smith", "Jones", "Patel", "Khan", "Evans", "Williams",
        "Brown", "O'Neill", "Murphy", "Nowak", "Okafor", "Singh", "Hughes",
        "Clarke", "Wright", "Green", "Hall", "Wood", "Ahmed"]
TITLES = [("Pause before replying",
           "When you notice your voice rising, stop, breathe out slowly, and "
           "say \"I need a minute\" before you answer."),
          ("Three appreciations",
           "Before bed, tell your partner three specific things you noticed "
           "and valued today."),
          ("Check-in walk",
           "Take a 20-minute walk together. Each of you talks for ten "
           "minutes while the other only listens."),
          ("Soft start-up",
           "Raise one small worry starting with \"I feel ... about ... and I "
           "need ...\" rather than \"You always ...\".")]


def _phone(rng, i):
    n = 900000 + i % 100000
    forms = [f"07700 {n:06d}", f"+447700{n:06d}", f"07700-{n:06d}",
             f"+44 (0)7700 {n:06d}", f"(07700) {n:06d}", f"0044 7700 {n:06d}"]
    return rng.choice(forms)


def _utc(local):
    """A naive local datetime -> aware UTC (zoneinfo: fold 0 = first occurrence)."""
    return local.replace(tzinfo=ZONE).astimezone(dt.timezone.utc)


def _stored(rng, local):
    """How a booking tool might store this local instant."""
    r = rng.random()
    if r < 0.85:
        return _utc(local).strftime("%Y-%m-%dT%H:%M:%SZ")
    if r < 0.95:
        aware = local.replace(tzinfo=ZONE)
        off = aware.utcoffset()
        mins = int(off.total_seconds() // 60)
        sign = "+" if mins >= 0 else "-"
        mins = abs(mins)
        return aware.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{mins // 60:02d}:{mins % 60:02d}"
    return local.strftime("%Y-%m-%dT%H:%M")


def populate(db_path, *, cases=2000, couples=1500, weeks=12, homework=500,
             first_day=dt.date(2026, 3, 2), homework_from=None, seed=42,
             bad_rows=2):
    """Fill db_path; returns a dict of row counts."""
    rng = random.Random(seed)
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA foreign_keys=ON")
    cur = con.cursor()
    counts = dict(clients=0, cases=0, appointments=0, homework=0)
    client_id = 0
    open_cases = []
    with con:
        for c in range(1, cases + 1):
            members = 2 if c <= couples else 1
            ids = []
            names = []
            for _ in range(members):
                client_id += 1
                first = rng.choice(FIRST)
                last = rng.choice(LAST)
                local = f"{first}.{last}".lower().replace("'", "")
                local = local.encode("ascii", "ignore").decode() or "client"
                email = (f"{local}{client_id}@example.org"
                         if rng.random() < 0.95 else None)
                phone = _phone(rng, client_id) if rng.random() < 0.8 else None
                cur.execute(
                    "INSERT INTO clients (id, name, first_name, email, phone,"
                    " email_consent, sms_consent, discreet, opted_out_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (client_id, f"{first} {last}",
                     first if rng.random() < 0.3 else None, email, phone,
                     1 if rng.random() < 0.97 else 0,
                     1 if rng.random() < 0.5 else 0,
                     1 if rng.random() < 0.1 else 0,
                     "2026-01-15T10:00:00Z" if rng.random() < 0.01 else None))
                ids.append(client_id)
                names.append(first)
            closed = "2026-02-20T17:00:00Z" if rng.random() < 0.02 else None
            cur.execute("INSERT INTO cases (id, label, closed_at) VALUES (?, ?, ?)",
                        (c, " & ".join(names), closed))
            for cl in ids:
                cur.execute("INSERT INTO case_members (case_id, client_id)"
                            " VALUES (?, ?)", (c, cl))
            if closed is None:
                open_cases.append(c)
            weekday = rng.randrange(5)
            minute = 9 * 60 + 15 * rng.randrange(44)
            base = dt.datetime.combine(first_day, dt.time()) + dt.timedelta(
                days=weekday, minutes=minute)
            rows = []
            for w in range(weeks):
                local = base + dt.timedelta(weeks=w)
                kind = "assessment" if w == 0 else (
                    "call" if rng.random() < 0.05 else "session")
                mode = rng.choices(["in_person", "online", "phone"],
                                   [70, 25, 5])[0]
                url = (f"https://meet.example.org/room-{c}"
                       if mode == "online" and rng.random() < 0.5 else None)
                status = "cancelled" if rng.random() < 0.03 else "booked"
                rows.append((c, _stored(rng, local),
                             90 if kind == "assessment" else 60,
                             kind, mode, url, status))
            cur.executemany(
                "INSERT INTO appointments (case_id, starts_at, duration_min,"
                " kind, mode, video_url, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows)
            counts["appointments"] += len(rows)
        counts["clients"] = client_id
        counts["cases"] = cases
        hw_from = homework_from or first_day
        for h, c in enumerate(rng.sample(open_cases, min(homework, len(open_cases)))):
            title, prompt = TITLES[h % len(TITLES)]
            start = hw_from - dt.timedelta(days=rng.randrange(7))
            end = (start + dt.timedelta(days=14)).isoformat() \
                if rng.random() < 0.5 else None
            cur.execute(
                "INSERT INTO homework (case_id, title, prompt, starts_on, ends_on,"
                " every_days, at_time, active) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                (c, title, prompt, start.isoformat(), end, rng.choice([1, 2, 2, 3]),
                 rng.choice([None, None, "18:30", "19:00", "20:00"])))
            counts["homework"] += 1
        # A booking tool's typo: reported and skipped, never fatal.
        for i in range(bad_rows):
            cur.execute("INSERT INTO appointments (case_id, starts_at)"
                        " VALUES (?, ?)", (open_cases[i], "next tuesday"))
            counts["appointments"] += 1
    con.close()
    return counts


def status_counts(db_path):
    con = sqlite3.connect(db_path)
    try:
        return dict(con.execute(
            "SELECT status, count(*) FROM messages GROUP BY status").fetchall())
    finally:
        con.close()


# ---------------------------------------------------------------------------
# The throughput and scale databases of `make bench` (issue 12): plain,
# uniform rows, so that what differs between nudged and the naive peer is
# the program, not the data.

def _z(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def couple_phone(client_id):
    """A UK mobile in E.164, unique per client."""
    return f"+4477{client_id:08d}"


def couple_email(client_id):
    return f"client{client_id}@example.org"


def _insert_couples(cur, n, first_case=1):
    """n couple cases (ids first_case...), both partners with an email and
    a phone and consent to both channels."""
    clients, members, cases = [], [], []
    for c in range(first_case, first_case + n):
        a, b = 2 * c - 1, 2 * c
        fa, fb = FIRST[c % len(FIRST)], FIRST[(c * 7 + 3) % len(FIRST)]
        last = LAST[c % len(LAST)]
        for cid, first in ((a, fa), (b, fb)):
            clients.append((cid, f"{first} {last}", couple_email(cid),
                            couple_phone(cid)))
            members.append((c, cid))
        cases.append((c, f"{fa} & {fb}"))
    cur.executemany("INSERT INTO clients (id, name, email, phone, email_consent,"
                    " sms_consent) VALUES (?, ?, ?, ?, 1, 1)", clients)
    cur.executemany("INSERT INTO cases (id, label) VALUES (?, ?)", cases)
    cur.executemany("INSERT INTO case_members (case_id, client_id) VALUES (?, ?)",
                    members)


def couples(db_path, n, now, lead=dt.timedelta(hours=3)):
    """n couples, each with one session starting `lead` after now (spread
    over the minute before, so every reminder with before = lead is due at
    now and none is overdue).  Each partner is then due one email and one
    SMS: 4n messages."""
    con = sqlite3.connect(db_path)
    with con:
        cur = con.cursor()
        _insert_couples(cur, n)
        cur.executemany(
            "INSERT INTO appointments (case_id, starts_at) VALUES (?, ?)",
            [(c, _z(now + lead - dt.timedelta(seconds=c % 60)))
             for c in range(1, n + 1)])
    con.close()
    return dict(couples=n, clients=2 * n, appointments=n, due=4 * n)


def year(db_path, now, appointments=1_000_000, cases=10_000, due_cases=25,
         lead=dt.timedelta(hours=3)):
    """A year of a large practice around now: `cases` couples, `appointments`
    sessions in all, evenly spread over a year from 180 days before now
    (one every 31 s for a million), none from 3 days before now to 4 hours after it, and `due_cases`
    of them at now + lead, whose 4 * due_cases reminders are the only ones
    due."""
    step = max(1, 365 * 86400 // appointments)     # 31 s for a million
    start = now - dt.timedelta(days=180)
    gap_from, gap_to = now - dt.timedelta(days=3), now + dt.timedelta(hours=4)
    con = sqlite3.connect(db_path)
    with con:
        cur = con.cursor()
        _insert_couples(cur, cases)
        # One INSERT ... SELECT: a million rows in a few seconds.
        cur.execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n"
            " WHERE i < ? - 1)"
            " INSERT INTO appointments (case_id, starts_at, kind)"
            " SELECT i % ? + 1,"
            "  strftime('%Y-%m-%dT%H:%M:%SZ', ?, '+' || (i * ?) || ' seconds'),"
            "  CASE WHEN i % 97 = 0 THEN 'call' ELSE 'session' END FROM n",
            (appointments - due_cases, cases, _z(start).rstrip("Z"), step))
        cur.execute("DELETE FROM appointments WHERE starts_at > ? AND starts_at < ?",
                    (_z(gap_from), _z(gap_to)))
        # Top up after the last one so that the total is exact.
        missing = appointments - due_cases - cur.execute(
            "SELECT count(*) FROM appointments").fetchone()[0]
        if missing > 0:
            cur.execute(
                "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n"
                " WHERE i < ? - 1)"
                " INSERT INTO appointments (case_id, starts_at)"
                " SELECT i % ? + 1,"
                "  strftime('%Y-%m-%dT%H:%M:%SZ', ?, '+' || (i * ?) || ' seconds')"
                " FROM n", (appointments - due_cases, appointments - due_cases + missing, cases,
                            _z(start).rstrip("Z"), step))
        cur.executemany("INSERT INTO appointments (case_id, starts_at) VALUES (?, ?)",
                        [(c, _z(now + lead)) for c in range(1, due_cases + 1)])
        total = cur.execute("SELECT count(*) FROM appointments").fetchone()[0]
    con.close()
    return dict(couples=cases, clients=2 * cases, appointments=total,
                due=4 * due_cases)
