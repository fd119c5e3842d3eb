"""The registry service over HTTP (a real uvicorn on 127.0.0.1), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from detente.accords import acts
from detente.http import problems
from detente.http.limits import TokenBuckets
from detente.registry.bundle import verify_bundle
from detente.service.app import create_app
from detente.service.home import Settings
from detente.statements.canonical import b64e, sha256_hex
from detente.statements.keys import key_id
from detente.tlog.proof import verify_tlog_proof
from detente.web import logpages
from tests.accords.world import rand
from tests.httpserver import serve
from tests.service.scene import Scene, scene, submission


@pytest.fixture
def site(tmp_path: Path, store_url: str) -> Iterator[tuple[Scene, httpx.Client]]:
    with (
        scene(tmp_path, store_url) as s,
        serve(create_app(s.service)) as url,
        httpx.Client(base_url=url) as c,
    ):
        yield s, c


def size(s: Scene) -> int:
    return s.service.read(lambda reg: reg.log.size)


def test_submit_answers_with_the_index_reception_time_and_a_proof(site: tuple[Scene, httpx.Client]) -> None:
    s, client = site
    m1, _, doc = s.offer("RU", "FR", "http offer")
    answer = client.post("/v1/statements", json=submission(m1, doc))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "integrated"
    assert body["kind"] == "offer"
    assert body["party"] == "RU"
    assert body["index"] == size(s) - 1
    assert body["received"] == s.clock.text()
    assert body["decision"] is None
    entry = base64.b64decode(body["entry"])
    log_key = s.home.log_home.verifier()
    verify_tlog_proof(body["tlog_proof"], entry, log_key, [])
    assert client.get(f"/v1/statements/{body['sid']}").json()["index"] == body["index"]
    assert client.get(f"/v1/exchanges/{m1.body['xid']}").json()["phase"] == "open"


def test_a_resolve_is_answered_with_the_notarys_decision(site: tuple[Scene, httpx.Client]) -> None:
    s, client = site
    m1, _, doc = s.offer("FR", "RU", "resolve")
    assert client.post("/v1/statements", json=submission(m1, doc)).status_code == 201
    m2 = acts.accept(s.keys["RU"].fm, s.clock.text(), m1, rand("nb resolve"))
    assert client.post("/v1/statements", json=submission(m2)).status_code == 201
    request = acts.resolve(s.keys["RU"].fm, s.clock.text(), m1, m2)
    answer = client.post("/v1/statements", json=submission(request)).json()
    assert answer["decision"] == "resolved"
    timeline = client.get(f"/v1/exchanges/{m1.body['xid']}").json()["timeline"]
    assert [a["kind"] for a in timeline] == ["offer", "accept", "resolve", "decision"]
    again = client.post("/v1/statements", json=submission(acts.abort(s.keys["FR"].fm, s.clock.text(), m1)))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


def test_refusals_are_problem_details_and_append_nothing(site: tuple[Scene, httpx.Client]) -> None:
    s, client = site
    before = size(s)
    m1, _, doc = s.offer("RU", "FR", "refusals")
    forged = submission(m1, doc)
    envelope = forged["envelope"]
    assert isinstance(envelope, dict)
    envelope["signatures"][0]["sig"] = b64e(bytes(64))
    cases = [
        (forged, 422, "/problems#verification"),
        (submission(m1), 404, "/problems#not-found"),  # the terms blob is missing
        ({"envelope": {"payload": "!"}}, 400, "/problems#malformed"),
        ({"blobs": "x"}, 422, "/problems#validation"),
    ]
    for body, status, kind in cases:
        answer = client.post("/v1/statements", json=body)
        assert (answer.status_code, answer.json()["type"]) == (status, kind), answer.text
    broken = client.post("/v1/statements", content=b"{not", headers={"content-type": "application/json"})
    assert broken.status_code == 422
    unreadable = [
        (b'{"envelope": {"payload": "\xff"}}', "not UTF-8 text (invalid start byte at byte 26)"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        (b'{"blobs": [' + b"9" * 5000 + b"]}", "Exceeds the limit (4300 digits)"),
    ]
    for content, reason in unreadable:
        answer = client.post("/v1/statements", content=content, headers={"content-type": "application/json"})
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == "/problems#validation"
        assert reason in answer.json()["detail"]
        assert "sys.set_int_max_str_digits" not in answer.json()["detail"]
    first = client.post("/v1/statements", json=submission(m1, doc))
    assert first.status_code == 201
    replay = client.post("/v1/statements", json=submission(m1, doc))
    assert replay.status_code == 409
    assert "replay" in replay.json()["detail"]
    assert size(s) == before + 1


def test_a_body_not_sent_as_json_is_refused_as_such(site: tuple[Scene, httpx.Client]) -> None:
    s, client = site
    before = size(s)
    m1, _, doc = s.offer("RU", "FR", "not sent as JSON")
    body = json.dumps(submission(m1, doc)).encode()
    refused = [
        (
            "application/x-www-form-urlencoded",
            "the body is sent as 'application/x-www-form-urlencoded', not as JSON",
        ),
        ("text/plain", "the body is sent as 'text/plain', not as JSON"),
        ("application/json; charset=latin-1", "the body's charset is 'latin-1', but JSON is UTF-8"),
        (None, "the request has no Content-Type"),
    ]
    for media_type, problem in refused:
        headers = {} if media_type is None else {"content-type": media_type}
        answer = client.post("/v1/statements", content=body, headers=headers)
        assert (answer.status_code, answer.json()["type"]) == (415, "/problems#media-type"), answer.text
        assert answer.json()["detail"] == f"{problem}: send the body with Content-Type: application/json"
    assert size(s) == before, "nothing was appended"
    for n, media_type in enumerate(["application/json; charset=UTF-8", "application/vnd.detente+json"]):
        m, _, doc = s.offer("RU", "FR", f"sent as JSON {n}")
        sent = json.dumps(submission(m, doc)).encode()
        answer = client.post("/v1/statements", content=sent, headers={"content-type": media_type})
        assert answer.status_code == 201, answer.text


def test_an_unknown_field_is_refused_by_its_name(site: tuple[Scene, httpx.Client]) -> None:
    s, client = site
    before = size(s)
    m1, _, doc = s.offer("RU", "FR", "unknown field")
    body = submission(m1, doc)
    misspelt = {"envelope": body["envelope"], "blob": body["blobs"]}  # not "the terms blob is missing"
    for sent, field in [({**body, "foo": 1}, "foo"), (misspelt, "blob")]:
        answer = client.post("/v1/statements", json=sent)
        assert (answer.status_code, answer.json()["type"]) == (422, "/problems#validation"), answer.text
        assert answer.json()["detail"] == f"body.{field}: " + problems._MESSAGES["extra_forbidden"]
    assert size(s) == before, "nothing was appended"


def test_reads_of_the_projection(site: tuple[Scene, httpx.Client]) -> None:
    s, client = site
    xid = s.ids["concluded"]
    parties = client.get("/v1/parties").json()
    assert [p["party"] for p in parties] == ["FR", "RU", "US"]
    assert parties[1]["keyset"]["roles"]["root"]["threshold"] == 2
    assert client.get(f"/v1/exchanges/{xid}").json()["phase"] == "concluded"
    assert [e["xid"] for e in client.get("/v1/exchanges", params={"party": "FR"}).json()] == [
        s.ids["refused"]
    ]
    state = client.get("/v1/between/RU/US").json()
    assert xid in state["in_force"]
    assert state["clauses"] == ["L1", "M2", "M3"]
    before = client.get("/v1/between/RU/US", params={"at": "2018-01-01T00:00:00Z"}).json()
    assert before["in_force"] == []
    assert client.get(f"/v1/declarations/{s.ids['declared']}").json()["in_force"] is True
    assert client.get(f"/v1/protests/{s.ids['protested']}").json()["reply"] is not None
    assert client.get("/v1/incidents").json() == []
    about = client.get("/v1/registry").json()
    assert key_id(base64.b64decode(about["notary_key"])) == about["notary"]  # for `audit --notary-key`
    assert client.get("/v1/exchanges/" + "0" * 32).status_code == 404
    assert client.get("/v1/exchanges/nothex").status_code == 422
    assert client.get("/v1/between/RU/RU").status_code == 400
    assert client.get(f"/v1/entries/{size(s)}").status_code == 404


def test_indices_and_times_are_read_in_ascii_digits_alone(site: tuple[Scene, httpx.Client]) -> None:
    _, client = site
    assert client.get("/v1/entries/3").json()["index"] == 3
    assert client.get("/v1/between/RU/US", params={"at": "2020-01-01T00:00:00Z"}).status_code == 200
    refused = [
        ("/v1/entries/+3", "path.index"),  # not entry 3
        ("/v1/entries/3_0", "path.index"),  # not entry 30
        ("/v1/entries/%203", "path.index"),
        ("/v1/entries/\u0663", "path.index"),  # ARABIC-INDIC DIGIT THREE
        ("/v1/parties/RU/acts?limit=%2B5", "query.limit"),
        ("/log/entry?index=%2B1", "query.index"),
        ("/log/entry/1_0.bin", "path.index"),
        ("/v1/between/RU/US?at=\u0662\u0660\u0662\u0660-01-01T00:00:00Z", "query.at"),  # not 2020
        ("/v1/declarations?at=2020-01-01T00:00:00Z%0A", "query.at"),
    ]
    # a time that is no real day is refused as one that is not a time at all, as the statements refuse it
    refused += [(f"/v1/between/RU/US?at={at}", "query.at") for at in ("2020", "2020-02-30T00:00:00Z")]
    for path, where in refused:
        answer = client.get(path)
        assert (answer.status_code, answer.json()["type"]) == (422, "/problems#validation"), path
        assert answer.json()["detail"].startswith(f"{where}: "), answer.text


@pytest.mark.parametrize("claim", ["concluded", "refused", "declared", "protested", "replied"])
def test_evidence_bundles_verify_offline(site: tuple[Scene, httpx.Client], claim: str) -> None:
    s, client = site
    ref = {"concluded": "concluded", "refused": "refused", "declared": "declared"}.get(claim, "protested")
    answer = client.get(f"/v1/bundles/{claim}/{s.ids[ref]}")
    assert answer.status_code == 200
    result = verify_bundle(answer.content, s.home.log_home.verifier())
    assert result.claim.type == claim
    assert result.claim.ref == s.ids[ref]
    assert client.get(f"/v1/bundles/concluded/{s.ids['refused']}").status_code == 404
    assert client.get(f"/v1/bundles/forged/{s.ids['refused']}").status_code == 400


def test_c2sp_endpoints_serve_the_same_log(site: tuple[Scene, httpx.Client]) -> None:
    s, client = site
    checkpoint = client.get("/checkpoint").text
    assert checkpoint.splitlines()[1] == str(size(s))
    proof = client.get("/v1/log/inclusion", params={"index": 0}).json()
    entry = base64.b64decode(
        client.get("/v1/log/entries", params={"start": 0, "stop": 1}).json()["entries"][0]
    )
    verify_tlog_proof(proof["tlog_proof"], entry, s.home.log_home.verifier(), [])


def test_concurrent_submissions_all_land_once(site: tuple[Scene, httpx.Client]) -> None:
    s, client = site
    offers = [s.offer("RU", "FR", f"concurrent {i}") for i in range(24)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda o: client.post("/v1/statements", json=submission(o[0], o[2])), offers))
    assert all(a.status_code == 201 for a in answers)
    indexes = sorted(a.json()["index"] for a in answers)
    assert indexes == list(range(size(s) - 24, size(s)))


def test_lapse_at_the_deadline(site: tuple[Scene, httpx.Client]) -> None:
    s, client = site
    m1, _, doc = s.offer("FR", "US", "lapses", hours=1)
    client.post("/v1/statements", json=submission(m1, doc))
    assert s.service.lapse() == ()
    s.clock.advance(hours=1)
    assert s.service.lapse() == (m1.body["xid"],)
    assert client.get(f"/v1/exchanges/{m1.body['xid']}").json()["phase"] == "lapsed"
    late = acts.accept(s.keys["US"].fm, s.clock.text(), m1, rand("late"))
    assert client.post("/v1/statements", json=submission(late)).status_code == 409


def test_no_secret_is_ever_served(site: tuple[Scene, httpx.Client]) -> None:
    s, client = site
    secrets = [
        (s.home.path / "notary.key").read_text().strip(),
        json.loads((s.home.path / "notary.key").read_text())["seed"],
        (s.home.log_home.path / "log.key").read_text().strip(),
    ]
    paths = [
        "/",
        "/log",
        "/verify",
        "/openapi.json",
        "/checkpoint",
        "/v1/parties",
        "/declarations",
        "/protests",
    ]
    paths += [f"/exchanges/{s.ids['concluded']}", f"/v1/bundles/concluded/{s.ids['concluded']}"]
    paths += [f"/log/entry?index={i}" for i in range(size(s))]
    for path in paths:
        text = client.get(path).text
        assert not any(secret in text for secret in secrets), path


def test_the_log_pages_lead_back_to_the_first_entry_and_no_further(
    site: tuple[Scene, httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client = site
    monkeypatch.setattr(logpages, "PAGE", 2)  # pages of two entries: 4 3, 2 1, 0
    shown, path = [], "/log?before=5"
    for _ in range(10):
        answer = client.get(path)
        assert answer.status_code == 200, path
        shown += [int(i) for i in re.findall(r'href="/log/entry\?index=(\d+)"', answer.text)]
        earlier = re.search(r'href="(/log\?before=\d+)">earlier', answer.text)
        if earlier is None:
            break
        path = earlier.group(1)
    assert shown == [4, 3, 2, 1, 0]
    assert "the log begins at index 0" in client.get("/log?before=0").text  # not a 500


def test_pages_carry_a_content_policy_and_no_answer_is_sniffed(site: tuple[Scene, httpx.Client]) -> None:
    _, client = site
    for path in ("/", "/log", "/verify"):
        page = client.get(path)
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "script-src 'self'" in page.headers["content-security-policy"]
    api = client.get("/v1/parties")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in api.headers  # JSON runs nothing
    assert "content-security-policy" not in client.get("/docs").headers  # Swagger UI comes from a CDN


def test_a_body_sent_in_chunks_reaches_the_api_whole(site: tuple[Scene, httpx.Client]) -> None:
    s, client = site
    m1, _, doc = s.offer("RU", "US", "chunked")
    body = json.dumps(submission(m1, doc)).encode()
    chunks = iter([body[:100], body[100:]])
    answer = client.post("/v1/statements", content=chunks, headers={"content-type": "application/json"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["sid"] == m1.sid


def test_body_and_rate_limits(tmp_path: Path, store_url: str) -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=1.0, burst=3.0, clock=lambda: now[0])
    with (
        scene(tmp_path, store_url, Settings(max_body=2048), record=False) as s,
        serve(create_app(s.service, buckets)) as url,
        httpx.Client(base_url=url) as client,
    ):
        m1, _, doc = s.offer("RU", "US", "too large")
        big = client.post("/v1/statements", json=submission(m1, doc, b"x" * 4096))
        assert big.status_code == 413
        assert big.json()["type"] == "/problems#too-large"
        # sent in chunks, with no length declared: still a 413, not a parser's 400
        chunked = client.post("/v1/statements", content=iter([b'{"envelope": ', b" " * 4096, b"}"]))
        assert chunked.status_code == 413, chunked.text
        assert chunked.json()["type"] == "/problems#too-large"
        assert [client.get("/checkpoint").status_code for _ in range(1)] == [200]
        limited = client.get("/checkpoint")
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "1"
        now[0] += 1.0
        assert client.get("/checkpoint").status_code == 200


def test_a_slow_batch_answers_202_and_the_statement_is_found_later(tmp_path: Path, store_url: str) -> None:
    with (
        scene(tmp_path, store_url, Settings(wait=0.0), record=False) as s,
        serve(create_app(s.service)) as url,
        httpx.Client(base_url=url) as client,
    ):
        m1, _, doc = s.offer("RU", "US", "slow")
        with s.service.lock:  # the writer cannot integrate while we hold the readers' lock
            answer = client.post("/v1/statements", json=submission(m1, doc))
        assert answer.status_code == 202
        assert answer.json()["status"] == "pending"
        s.service.lapse()  # queued behind the pending batch: once it returns, that batch is in
        assert client.get(answer.headers["location"]).json()["sid"] == answer.json()["sid"]


def test_a_statement_answered_202_then_refused_is_answered_with_its_refusal(
    tmp_path: Path, store_url: str
) -> None:
    with (
        scene(tmp_path, store_url, Settings(wait=0.0), record=False) as s,
        serve(create_app(s.service)) as url,
        httpx.Client(base_url=url) as client,
    ):
        m1, _, doc = s.offer("RU", "US", "forged, then pending")
        forged = submission(m1, doc)
        envelope = forged["envelope"]
        assert isinstance(envelope, dict)
        envelope["signatures"][0]["sig"] = b64e(bytes(64))
        with s.service.lock:
            answer = client.post("/v1/statements", json=forged)
        assert answer.status_code == 202
        s.service.lapse()  # queued behind the pending batch: once it returns, that batch is decided
        later = client.get(answer.headers["location"])
        assert later.status_code == 422, later.text
        assert later.json()["type"] == "/problems#verification"
        assert "does not verify" in later.json()["detail"]
        assert client.post("/v1/statements", json=submission(m1, doc)).status_code == 202  # waits for nothing
        s.service.lapse()
        assert client.get(answer.headers["location"]).status_code == 200, "the log comes first"


def test_deadline_timer_waits_for_the_earliest_deadline(tmp_path: Path, store_url: str) -> None:
    with scene(tmp_path, store_url, Settings(lapse_interval=600.0), record=False) as s:
        assert s.service.seconds_to_next_deadline() == 600.0
        m1, _, doc = s.offer("RU", "US", "timer", hours=0.01)
        s.submit(m1, doc)
        assert s.service.seconds_to_next_deadline() == pytest.approx(36 + 1.0)
        s.clock.advance(hours=1)
        assert s.service.seconds_to_next_deadline() == 1.0


def test_a_method_not_allowed_says_which_are(site: tuple[Scene, httpx.Client]) -> None:
    _, client = site
    answer = client.delete("/v1/parties")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"
    assert answer.json()["type"] == "/problems#http-405"
    # every method the path takes: HEAD wherever GET is, POST where POST alone is
    for method, path, allow in [
        ("DELETE", "/", "GET, HEAD"),
        ("DELETE", "/checkpoint", "GET, HEAD"),
        ("PUT", "/tile/0/000", "GET, HEAD"),
        ("POST", "/static/style.css", "GET, HEAD"),
        ("GET", "/v1/statements", "POST"),
    ]:
        answer = client.request(method, path)
        assert (answer.status_code, answer.headers["allow"]) == (405, allow), path
        assert answer.headers["content-type"] == "application/problem+json", path
        assert answer.json()["type"] == "/problems#http-405", path
    head = client.head("/v1/statements")  # no GET there, so no HEAD either: the same 405, with no body
    assert (head.status_code, head.headers["allow"], head.content) == (405, "POST", b"")


def test_every_get_answers_head_with_its_headers_and_no_body(site: tuple[Scene, httpx.Client]) -> None:
    s, client = site
    m1, _, doc = s.offer("RU", "FR", "a blob to HEAD")
    assert client.post("/v1/statements", json=submission(m1, doc)).status_code == 201
    paths = ["/", "/problems", "/log", "/verify", "/openapi.json", "/checkpoint", "/tile/0/000.p/1"]
    paths += ["/v1/registry", "/v1/parties", "/v1/parties/RU/feed.atom", f"/v1/blobs/{sha256_hex(doc)}"]
    paths += [f"/v1/bundles/concluded/{s.ids['concluded']}", f"/exchanges/{s.ids['concluded']}"]
    paths += ["/v1/entries/0", "/v1/log/entries?start=0&stop=2", "/static/style.css"]
    paths += ["/v1/blobs/" + "0" * 64, "/v1/entries/+3", "/nowhere"]  # refusals: the GET's, without a body
    kept: tuple[str, ...] = (
        "content-type",
        "content-length",
        "cache-control",
        "content-disposition",
        "allow",
    )
    kept += ("x-content-type-options", "content-security-policy")
    for path in paths:
        head, got = client.head(path), client.get(path)
        assert head.status_code == got.status_code, path
        assert head.status_code != 405, path
        assert head.content == b"", path
        assert [head.headers.get(h) for h in kept] == [got.headers.get(h) for h in kept], path


def test_a_failure_inside_the_service_is_a_problem_that_tells_no_secret(
    site: tuple[Scene, httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    s, client = site
    m1, _, doc = s.offer("RU", "FR", "disk full")
    before = size(s)

    def full(data: bytes) -> str:
        raise OSError(28, "No space left on device", "/srv/secret/path")

    monkeypatch.setattr(s.service.registry.blobs, "put", full)
    answer = client.post("/v1/statements", json=submission(m1, doc))
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "/problems#internal"
    assert "secret" not in answer.text
    assert "No space" not in answer.text
    assert size(s) == before, "nothing was appended"
