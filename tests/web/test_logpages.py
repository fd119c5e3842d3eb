"""The log's pages, served for real: readable without JavaScript, errors as pages for browsers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from detente.http.problems import EXTRA_TYPES, STATUS, slug
from detente.tlog.log import Log
from detente.tlog.note import Signer
from detente.tlog.proof import verify_tlog_proof
from detente.tlog.storage import MemoryStore
from tests.web.logsite import log_site

SIGNER = Signer.generate("web.example/log")


@pytest.fixture
def site() -> Iterator[tuple[str, Log]]:
    log = Log.create(MemoryStore(), SIGNER)
    entries = [json.dumps({"received": f"2026-11-29T00:00:0{i}Z", "n": i}).encode() for i in range(5)]
    log.append([*entries, b"plain <bytes>"])
    with log_site(log) as url:
        yield url, log


def test_log_page_lists_entries_and_the_checkpoint(site: tuple[str, Log]) -> None:
    url, log = site
    html = httpx.get(f"{url}/log").text
    assert "6 entries" in html
    assert log.log_key.vkey in html
    assert "2026-11-29T00:00:04Z" in html
    assert "plain &lt;bytes&gt;" in html, "content is escaped"
    assert "<script" not in html


def test_entry_page_and_its_downloadable_proof_verify(site: tuple[str, Log]) -> None:
    url, _ = site
    page = httpx.get(f"{url}/log/entry", params={"index": 2}).text
    assert "&#34;n&#34;: 2" in page or "&quot;n&quot;: 2" in page
    proof = httpx.get(f"{url}/log/entry/2.tlog-proof").text
    entry = httpx.get(f"{url}/log/entry/2.bin").content
    verify_tlog_proof(proof, entry, SIGNER.verifier())


def test_errors_are_pages_for_browsers_and_problems_for_programs(site: tuple[str, Log]) -> None:
    url, _ = site
    as_page = httpx.get(f"{url}/log/entry", params={"index": 99}, headers={"Accept": "text/html"})
    assert as_page.status_code == 404
    assert as_page.headers["content-type"].startswith("text/html")
    assert "outside the log" in as_page.text
    as_problem = httpx.get(f"{url}/log/entry", params={"index": 99})
    assert as_problem.json()["type"] == "/problems#not-found"


def test_css_is_served_by_the_app(site: tuple[str, Log]) -> None:
    url, _ = site
    assert "font-family" in httpx.get(f"{url}/static/style.css").text
    assert "verifyTlogProof" in httpx.get(f"{url}/static/tlog.js").text


def test_the_verify_page_of_a_bare_log_checks_proofs_only(site: tuple[str, Log]) -> None:
    url, _ = site
    page = httpx.get(f"{url}/verify").text
    assert 'id="proof-form"' in page
    assert 'id="bundle-form"' not in page  # without the rules to read statements by, no bundle is checked


def test_every_problem_type_is_documented_on_the_problems_page(site: tuple[str, Log]) -> None:
    url, _ = site
    page = httpx.get(f"{url}/problems").text
    for kind in [slug(k) for k, _, _ in STATUS] + [t[0] for t in EXTRA_TYPES]:
        assert f'id="{kind}"' in page, kind
    as_problem = httpx.get(f"{url}/log/entry", params={"index": 99}).json()
    assert f'id="{as_problem["type"].split("#")[1]}"' in page
