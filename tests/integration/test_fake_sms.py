"""The fake SMS providers themselves: a fake that accepts what the real API
refuses would let nudged's end-to-end tests pass for the wrong reason."""

import base64
import concurrent.futures
import http.client
import json
import urllib.parse

import pytest

from fake_sms import FakeGeneric, FakeTwilio, FakeVonage, is_gsm7, segments


def post(fake, path, fields=None, headers=None, raw=None, method="POST"):
    """(status, headers, parsed JSON or raw bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=5)
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    h.update(headers or {})
    body = raw if raw is not None else urllib.parse.urlencode(fields or {}).encode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        return r.status, dict(r.getheaders()), json.loads(data)
    except ValueError:
        return r.status, dict(r.getheaders()), data


def twilio_auth(tw, token=None):
    cred = "%s:%s" % (tw.account, token or tw.token)
    return {"Authorization": "Basic " + base64.b64encode(cred.encode()).decode()}


def twilio_path(tw):
    return "/2010-04-01/Accounts/%s/Messages.json" % tw.account


GOOD = {"To": "+447700900123", "From": "+447700900000", "Body": "Hi & bye = 1 + 1"}


def test_segments():
    assert segments("") == 0
    assert segments("a" * 160) == 1
    assert segments("a" * 161) == 2
    assert segments("a" * 306) == 2 and segments("a" * 307) == 3
    assert segments("€" * 80) == 1          # extension: 2 septets each
    assert segments("€" * 81) == 2
    assert not is_gsm7("hi 😀") and segments("😀" * 35) == 1
    assert segments("😀" * 36) == 2
    # 66 units then a surrogate pair: the pair moves whole to part 2.
    assert segments("a" * 66 + "😀" + "a" * 67) == 3


def test_twilio_accepts_and_records():
    with FakeTwilio() as tw:
        st, _, js = post(tw, twilio_path(tw), GOOD, twilio_auth(tw))
        assert st == 201 and js["sid"].startswith("SM") and len(js["sid"]) == 34
        assert js["status"] == "queued" and js["body"] == GOOD["Body"]
        assert tw.messages == [dict(GOOD, sid=js["sid"])]
        assert tw.requests[0]["auth_ok"] and tw.requests[0]["form"] == GOOD


@pytest.mark.parametrize("change,status,code", [
    ({"To": "07700900123"}, 400, 21211),
    ({"To": "+0447700900123"}, 400, 21211),
    ({"From": ""}, 400, 21603),
    ({"Body": ""}, 400, 21602),
    ({"Body": "x" * 1601}, 400, 21617),
])
def test_twilio_refuses_what_twilio_refuses(change, status, code):
    with FakeTwilio() as tw:
        st, _, js = post(tw, twilio_path(tw), dict(GOOD, **change), twilio_auth(tw))
        assert (st, js["code"], js["status"]) == (status, code, status)
        assert tw.messages == []


def test_twilio_auth_path_method():
    with FakeTwilio() as tw:
        st, h, js = post(tw, twilio_path(tw), GOOD, twilio_auth(tw, "wrong"))
        assert st == 401 and js["code"] == 20003 and "WWW-Authenticate" in h
        assert not tw.requests[-1]["auth_ok"]
        assert post(tw, "/2010-04-01/Accounts/ACx/Messages.json", GOOD,
                    twilio_auth(tw))[0] == 404
        assert post(tw, twilio_path(tw), GOOD, twilio_auth(tw), method="PUT")[0] == 405
        st, _, js = post(tw, twilio_path(tw), GOOD,
                         dict(twilio_auth(tw), **{"Content-Type": "application/json"}))
        assert st == 400 and tw.errors
        assert tw.messages == []


def test_twilio_script_in_order():
    with FakeTwilio() as tw:
        tw.script([("400", 21610), ("429", 7), "500", "401", "201"])
        got = []
        for _ in range(5):
            st, h, js = post(tw, twilio_path(tw), GOOD, twilio_auth(tw))
            got.append((st, js.get("code"), h.get("Retry-After")))
        assert got == [(400, 21610, None), (429, 20429, "7"), (500, 20500, None),
                       (401, 20003, None), (201, None, None)]
        assert len(tw.messages) == 1


def test_twilio_invalid_request_beats_script():
    with FakeTwilio() as tw:
        tw.script(["201"])
        st, _, js = post(tw, twilio_path(tw), dict(GOOD, To="12"), twilio_auth(tw))
        assert st == 400 and js["code"] == 21211


def test_twilio_drop_reads_then_closes():
    with FakeTwilio() as tw:
        tw.script(["drop"])
        with pytest.raises(http.client.RemoteDisconnected):
            post(tw, twilio_path(tw), GOOD, twilio_auth(tw))
        assert tw.requests[0]["form"] == GOOD and tw.messages == []


def test_max_concurrency_is_measured():
    with FakeTwilio() as tw:
        tw.script([("slow", 0.3)] * 6)
        with concurrent.futures.ThreadPoolExecutor(3) as ex:
            res = list(ex.map(lambda _: post(tw, twilio_path(tw), GOOD,
                                             twilio_auth(tw))[0], range(6)))
        assert res == [201] * 6
        assert tw.max_concurrency == 3


V_GOOD = {"api_key": "a1b2c3d4", "api_secret": "Secret123", "from": "Practice",
          "to": "447700900123", "text": "See you at 14:00"}


def test_vonage_ok_and_parts():
    with FakeVonage() as vo:
        st, _, js = post(vo, "/sms/json", V_GOOD)
        assert st == 200 and js["message-count"] == "1"
        assert js["messages"][0]["status"] == "0" and js["messages"][0]["message-id"]
        st, _, js = post(vo, "/sms/json", dict(V_GOOD, text="a" * 200))
        assert js["message-count"] == "2" and len(js["messages"]) == 2
        assert len(vo.messages) == 2 and len(vo.messages[1]["ids"]) == 2


@pytest.mark.parametrize("change,status", [
    ({"api_secret": "nope"}, "4"),
    ({"to": "+447700900123"}, "3"),
    ({"text": "Café at 2 😀"}, "3"),        # non-GSM-7 without type=unicode
    ({"to": ""}, "2"),
])
def test_vonage_refusals(change, status):
    with FakeVonage() as vo:
        st, _, js = post(vo, "/sms/json", dict(V_GOOD, **change))
        assert st == 200 and js["messages"][0]["status"] == status
        assert vo.messages == []


def test_vonage_unicode_with_type_is_fine():
    with FakeVonage() as vo:
        st, _, js = post(vo, "/sms/json", dict(V_GOOD, text="😀 ok", type="unicode"))
        assert js["messages"][0]["status"] == "0" and vo.errors == []
        assert vo.messages[0]["type"] == "unicode"


def test_vonage_script():
    with FakeVonage() as vo:
        vo.script(["throttled", "bad-credentials", "partial", "500", ("status", 9)])
        out = []
        for _ in range(5):
            st, _, js = post(vo, "/sms/json", V_GOOD)
            out.append((st, [m["status"] for m in js["messages"]]
                        if isinstance(js, dict) else None))
        assert out == [(200, ["1"]), (200, ["4"]), (200, ["0", "5"]), (500, None),
                       (200, ["9"])]


def test_generic_json_and_form():
    with FakeGeneric(expect_headers={"Authorization": "Bearer t0k"}) as ge:
        body = json.dumps({"to": "+447700900123", "text": 'a "q" \\ \n 😀'}).encode()
        st, _, js = post(ge, "/v1/send", raw=body,
                         headers={"Content-Type": "application/json",
                                  "Authorization": "Bearer t0k"})
        assert st == 200 and js["id"] == "gen-1"
        assert ge.requests[0]["parsed"]["text"] == 'a "q" \\ \n 😀'
        st, _, js = post(ge, "/v1/send", {"to": "+4477", "text": "a&b"},
                         headers={"Authorization": "Bearer t0k"}, method="PUT")
        assert st == 200 and ge.requests[1]["method"] == "PUT"
        assert ge.requests[1]["parsed"] == {"to": "+4477", "text": "a&b"}
        assert post(ge, "/v1/send", {"to": "1"})[0] == 401
        st, _, _ = post(ge, "/v1/send", raw=b"{bad", headers={
            "Content-Type": "application/json", "Authorization": "Bearer t0k"})
        assert st == 400 and ge.errors


def test_generic_script():
    with FakeGeneric() as ge:
        ge.script([("200", {"id": 42}), "500", ("429", 3), ("202", "queued")])
        got = [post(ge, "/", {"a": "b"}) for _ in range(4)]
        assert got[0][0] == 200 and got[0][2] == {"id": 42}
        assert got[1][0] == 500
        assert got[2][0] == 429 and got[2][1]["Retry-After"] == "3"
        assert got[3][0] == 202 and got[3][2] == b"queued"
