"""The log over HTTP, on a real uvicorn server, against both stores; problem details and limits."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Request

from detente.http import problems
from detente.http.head import HeadAsGet
from detente.http.limits import BodyLimit, RateLimit, TokenBuckets, client_key
from detente.http.logapi import SharedLog, log_router
from detente.tlog import merkle
from detente.tlog.log import Log
from detente.tlog.note import Signer
from detente.tlog.proof import verify_tlog_proof
from detente.tlog.tiles import TileRef, decode_entry_bundle
from tests.conftest import StoreFactory
from tests.httpserver import serve

SIGNER = Signer.generate("http.example/log")


@pytest.fixture
def served(new_store: StoreFactory) -> Iterator[tuple[str, Log]]:
    writer = Log.create(new_store(), SIGNER)
    writer.append([f"entry {i}".encode() for i in range(300)])
    app = FastAPI()
    problems.install(app)
    app.include_router(log_router(SharedLog(Log.open(new_store(), SIGNER.verifier()))))
    app.add_middleware(HeadAsGet)
    with serve(app) as url:
        yield url, writer


def test_checkpoint_tiles_and_bundles_follow_the_writer(served: tuple[str, Log]) -> None:
    url, writer = served
    with httpx.Client(base_url=url) as http:
        assert http.get("/checkpoint").text == writer.signed_checkpoint
        tile = http.get("/tile/0/000")
        assert tile.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert tile.content == writer.tile(TileRef(0, 0, 256))
        assert http.get("/tile/0/001.p/44").content == writer.tile(TileRef(0, 1, 44))
        writer.append([b"late"])
        assert http.get("/checkpoint").text == writer.signed_checkpoint
        bundle = http.get("/tile/entries/001.p/45")
        assert decode_entry_bundle(bundle.content)[-1] == b"late"
        for path in ("/checkpoint", "/tile/0/000", "/tile/entries/001.p/45"):  # HEAD: the headers alone
            head, got = http.head(path), http.get(path)
            assert head.status_code == 200, path
            assert head.content == b""
            assert head.headers["content-length"] == str(len(got.content))
            assert head.headers["cache-control"] == got.headers["cache-control"]
        assert http.head("/tile/0/999").status_code == 404


def test_proofs_and_entries_verify(served: tuple[str, Log]) -> None:
    url, writer = served
    with httpx.Client(base_url=url) as http:
        proof = http.get("/v1/log/inclusion", params={"index": 123}).json()
        verify_tlog_proof(proof["tlog_proof"], b"entry 123", SIGNER.verifier())
        body = http.get("/v1/log/consistency", params={"old": 100}).json()
        hashes = [base64.b64decode(h) for h in body["hashes"]]
        merkle.verify_consistency(100, 300, writer.root_at(100), writer.checkpoint.root, hashes)
        entries = http.get("/v1/log/entries", params={"start": 298, "stop": 310}).json()
        assert [base64.b64decode(e) for e in entries["entries"]] == [b"entry 298", b"entry 299"]


def test_an_inclusion_proof_in_an_older_tree_verifies_against_its_root(served: tuple[str, Log]) -> None:
    url, writer = served
    with httpx.Client(base_url=url) as http:
        older = http.get("/v1/log/inclusion", params={"index": 42, "size": 100})
        assert older.status_code == 200, older.text
        body = older.json()
        assert (body["index"], body["size"], body["checkpoint"], body["tlog_proof"]) == (42, 100, None, None)
        hashes = [base64.b64decode(h) for h in body["hashes"]]
        merkle.verify_inclusion(42, 100, merkle.leaf_hash(b"entry 42"), hashes, writer.root_at(100))
        current = http.get("/v1/log/inclusion", params={"index": 42, "size": 300}).json()
        assert current["checkpoint"] == writer.signed_checkpoint, "the current size is proven as by default"
        verify_tlog_proof(current["tlog_proof"], b"entry 42", SIGNER.verifier())
        beyond = http.get("/v1/log/inclusion", params={"index": 42, "size": 301})
        assert (beyond.status_code, beyond.json()["type"]) == (404, "/problems#not-found")


def test_entries_past_the_end_are_refused_by_the_range_asked_for(served: tuple[str, Log]) -> None:
    url, _ = served
    with httpx.Client(base_url=url) as http:
        past = http.get("/v1/log/entries", params={"start": 400, "stop": 405})
        assert past.status_code == 404
        detail = "entries 400..405 are outside the log of size 300: start at 300 or below"
        assert past.json()["detail"] == detail
        at_the_end = http.get("/v1/log/entries", params={"start": 300, "stop": 305})
        assert at_the_end.json() == {"start": 300, "entries": []}, "a follower polls from the end"


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/tile/0/1", 400, "malformed"),
        ("/tile/0/009", 404, "not-found"),
        ("/v1/log/inclusion?index=300", 404, "not-found"),
        ("/v1/log/inclusion?index=-1", 422, "validation"),
        ("/v1/log/inclusion?index=1_0", 422, "validation"),  # not index 10
        ("/v1/log/inclusion?index=1&size=%2B300", 422, "validation"),
        ("/v1/log/consistency?old=%201", 422, "validation"),
        ("/v1/log/entries?start=\u0661&stop=2", 422, "validation"),  # ARABIC-INDIC DIGIT ONE
        ("/v1/log/entries?start=0&stop=1000", 400, "malformed"),
        ("/nowhere", 404, "http-404"),
    ],
)
def test_errors_are_problem_details(served: tuple[str, Log], path: str, status: int, kind: str) -> None:
    url, _ = served
    response = httpx.get(url + path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"/problems#{kind}"
    assert body["status"] == status
    assert body["detail"]


@pytest.mark.parametrize(
    ("path", "allow"),
    [("/checkpoint", "GET, HEAD"), ("/tile/0/000", "GET, HEAD"), ("/v1/log/entries", "GET, HEAD")],
)
def test_a_method_not_allowed_lists_every_method_the_path_takes(
    served: tuple[str, Log], path: str, allow: str
) -> None:
    url, _ = served
    response = httpx.delete(url + path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow, "HEAD is served where GET is, and Allow says so"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems#http-405"


def _echo_app(max_body: int, buckets: TokenBuckets | None) -> FastAPI:
    app = FastAPI()
    problems.install(app)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    app.add_middleware(BodyLimit, max_body=max_body)
    if buckets is not None:
        app.add_middleware(RateLimit, buckets=buckets)
    return app


def test_bodies_over_the_limit_are_refused_declared_or_streamed() -> None:
    with serve(_echo_app(1000, None)) as url, httpx.Client(base_url=url) as http:
        assert http.post("/echo", content=b"x" * 1000).json() == {"length": 1000}
        assert http.post("/echo", content=b"x" * 1001).status_code == 413
        streamed = http.post("/echo", content=iter([b"x" * 600, b"y" * 600]))
        assert streamed.status_code == 413
        assert streamed.json()["type"] == "/problems#too-large"


def test_rate_limit_per_client_with_an_injected_clock() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=1.0, burst=3, clock=lambda: now[0])
    with serve(_echo_app(1000, buckets)) as url, httpx.Client(base_url=url) as http:
        codes = [http.post("/echo", content=b"").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = http.post("/echo", content=b"")
        assert limited.headers["retry-after"] == "1"
        now[0] += 1.0
        assert http.post("/echo", content=b"").status_code == 200


def test_a_429_says_the_same_whole_seconds_as_its_retry_after() -> None:
    # at 0.4 a second an empty bucket refills one token in 2.5 s: told 3 s (rounded up), in both places
    buckets = TokenBuckets(rate=0.4, burst=1, clock=lambda: 0.0)
    with serve(_echo_app(1000, buckets)) as url, httpx.Client(base_url=url) as http:
        assert http.post("/echo", content=b"").status_code == 200
        limited = http.post("/echo", content=b"")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "3"
    assert limited.json()["detail"] == "this client is over its request rate; retry in 3 s"


def test_an_ipv6_client_is_its_64_and_an_ipv4_client_its_address() -> None:
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1:2") == "2001:db8::/64"
    assert client_key("2001:db8:0:1::1") == "2001:db8:0:1::/64"
    assert client_key("192.0.2.7") == client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("testclient") == "testclient"
    buckets = TokenBuckets(rate=1.0, burst=3, clock=lambda: 0.0)
    waits = [buckets.take(client_key(f"2001:db8::{n:x}")) for n in range(1, 5)]
    assert waits == [0.0, 0.0, 0.0, 1.0], "four addresses of one /64 share one burst"


def test_the_buckets_of_clients_gone_quiet_are_dropped() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=10.0, burst=20, clock=lambda: now[0])
    for n in range(20_000):
        buckets.take(f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}")
    assert buckets.clients == 20_000, "within their refill time, every client is remembered"
    now[0] += 2.0  # everyone above has refilled (20 tokens at 10 a second)
    for n in range(20_000):
        buckets.take(f"172.16.{n >> 8}.{n & 255}")  # others, each once
    assert buckets.clients == 20_000, "the buckets of the first 20,000, full again, were dropped"
    assert [buckets.take("172.16.0.0") == 0.0 for _ in range(20)] == [True] * 19 + [False]
