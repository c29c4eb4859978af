"""The practice's nudged.conf, written one way for every harness.

tests/integration/conftest.py (the Practice fixture), tests/demo.py and
tests/bench/ all describe the same made-up practice (Hughes Relationship
Therapy, Europe/London) and differ only in where the database, the SMTP
server and the SMS provider are.  They build the config text here, so a
new required key or a renamed one is changed once.

    text = conf_text(db, email={...}, sms={...} or Raw(...),
                     reminders=[...] or Raw(...), late_limit="1h", extra="...")
    write_conf(path, text)          # 0600: it may hold a secret inline
"""

import os

PRACTICE_EMAIL = "christian@example.org"
FROM = "Christian Hughes <appointments@example.org>"
SMTP_USER = "nudged"
SMTP_PASSWORD = "s3cret"

# The practice group every harness starts from.
PRACTICE = {
    "name": "Hughes Relationship Therapy",
    "practitioner": "Christian Hughes",
    "timezone": "Europe/London",
    "email": PRACTICE_EMAIL,
    "phone": "01384 000000",
    "address": "1 High Street, Stourbridge DY8 1AA",
    "video_url": "https://meet.example.org/hughes",
}


class Raw(str):
    """A value written into the config as it is (e.g. a list of groups)."""


def lc(value):
    """A Python value as libconfig text."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        esc = (value.replace("\\", "\\\\").replace('"', '\\"')
               .replace("\n", "\\n").replace("\t", "\\t"))
        return f'"{esc}"'
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, dict) for v in value):
            return "(\n" + ",\n".join("  " + lc(v) for v in value) + "\n)"
        return "[" + ", ".join(lc(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + " ".join(f"{k} = {lc(v)};" for k, v in value.items()) + " }"
    raise TypeError(f"no libconfig form for {value!r}")


def group(name, items):
    """name = { key = value; ... }; keys whose value is None are left out."""
    lines = [f"{name} = {{"]
    for k, v in items.items():
        if v is None:
            continue
        lines.append(f"  {k} = {lc(v)};")
    lines.append("};")
    return "\n".join(lines)


def conf_text(db, *, practice=None, email=None, sms=None, reminders=None,
              extra="", comment=None, **top):
    """The config text.  practice overrides keys of PRACTICE (None drops
    one); email and sms are the whole group (a dict, or Raw text; None
    or False: no group); reminders is a list of rule dicts or Raw text
    (an empty list: none); other keyword arguments are top-level keys
    (late_limit="1h", or a dict for a group); extra is appended as it is."""
    p = dict(PRACTICE)
    p.update(practice or {})
    parts = [f"# {comment}"] if comment else []
    parts += [group("practice", p), f"database = {lc(str(db))};"]
    for name, g in (("email", email), ("sms", sms)):
        if isinstance(g, Raw):
            parts.append(str(g))
        elif g is not None and g is not False:
            parts.append(group(name, g))
    if reminders is not None:
        parts.append(f"reminders = {lc(reminders)};" if reminders
                     else "reminders = ();")
    for k, v in top.items():
        parts.append(f"{k} = {lc(v)};" if not isinstance(v, dict)
                     else group(k, v))
    if extra:
        parts.append(extra)
    return "\n".join(parts) + "\n"


def write_conf(path, text, mode=0o600):
    """Write the config (0600 by default: it may hold a secret inline)."""
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def write_password(path, secret=SMTP_PASSWORD):
    """A password file as the practitioner keeps it: one line, 0600."""
    with open(path, "w") as f:
        f.write(secret + "\n")
    os.chmod(path, 0o600)
    return path
