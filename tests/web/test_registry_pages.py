"""The registry's pages without JavaScript, and the Atom feed, over a real server."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from detente.service.app import create_app
from detente.service.home import Settings
from detente.web.registrypages import bundle_rules
from tests.httpserver import serve
from tests.service.scene import Scene, scene

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Scene, httpx.Client]]:
    tmp = tmp_path_factory.mktemp("pages")
    with (
        scene(tmp, f"sqlite:///{tmp / 'log.db'}") as s,
        serve(create_app(s.service)) as url,
        httpx.Client(base_url=url) as client,
    ):
        yield s, client


def test_pages_render_the_record(site: tuple[Scene, httpx.Client]) -> None:
    s, client = site
    expected = {
        "/": ["In force between parties", "RU → US", "Atom"],
        "/declarations": ["No interference", "to all", "in force"],
        "/protests": ["Reply by US: rejects", "We deny it."],
        "/incidents": ["No incident reported yet."],
        "/parties/RU": ["Keyset version 1", "RU and US"],
        "/between/RU/US": ["Clauses in force", "M2"],
        f"/exchanges/{s.ids['refused']}": ["refused", "Bundle: refused"],
    }
    for path, texts in expected.items():
        page = client.get(path, headers={"accept": "text/html"})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        for text in texts:
            assert text in page.text, (path, text)


def test_statement_text_is_escaped(site: tuple[Scene, httpx.Client]) -> None:
    _, client = site
    page = client.get("/protests").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def test_the_verify_page_carries_the_rules_of_detente_verify(site: tuple[Scene, httpx.Client]) -> None:
    _, client = site
    page = client.get("/verify").text
    found = re.search(r'<script type="application/json" id="bundle-rules">(.*?)</script>', page, re.S)
    assert found is not None
    rules = json.loads(found.group(1))
    assert rules == bundle_rules()
    # in the schemas' own order: the browser checks a payload's fields in it, as Python does
    offer = rules["payloads"]["application/vnd.detente.offer.v1+json"]
    assert list(offer["properties"]) == ["kind", "party", "issued", "body"]


def test_unknown_things_are_404_pages_for_browsers(site: tuple[Scene, httpx.Client]) -> None:
    _, client = site
    page = client.get("/exchanges/" + "0" * 32, headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert client.get("/parties/XX").status_code == 404


def test_one_party_with_itself_is_a_400_page_with_the_apis_reason(site: tuple[Scene, httpx.Client]) -> None:
    _, client = site
    page = client.get("/between/US/US", headers={"accept": "text/html"})
    api = client.get("/v1/between/US/US")
    assert page.status_code == api.status_code == 400
    assert "text/html" in page.headers["content-type"]
    assert api.json()["type"] == "/problems#malformed"
    assert api.json()["detail"] in page.text
    as_problem = client.get("/between/US/US")  # a program asking for the page gets the same problem
    assert as_problem.json() == api.json()


def test_atom_feed_of_a_party(site: tuple[Scene, httpx.Client]) -> None:
    s, client = site
    answer = client.get("/v1/parties/FR/feed.atom")
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(answer.content)  # noqa: S314 - our own feed, under test
    titles = [e.findtext(f"{ATOM}title") for e in feed.iter(f"{ATOM}entry")]
    assert titles[0] == f"US: declaration ({s.ids['declared']})"  # declarations to all concern everyone
    assert f"US: offer to FR ({s.ids['refused']})" in titles
    assert f"FR: refuse to US ({s.ids['refused']})" in titles
    assert not any(t and t.startswith("RU: reveal") for t in titles)
    links = [link.get("href") for link in feed.iter(f"{ATOM}link")]
    assert all(h and h.startswith(str(client.base_url)) for h in links)
    assert answer.headers["vary"] == "Host", "no public_url: links follow the Host asked, cached per Host"


def test_the_feed_links_to_the_public_url_whatever_host_is_asked(tmp_path: Path) -> None:
    public = "https://registry.example.org"
    with (
        scene(tmp_path, f"sqlite:///{tmp_path / 'log.db'}", Settings(public_url=public)) as s,
        serve(create_app(s.service)) as url,
        httpx.Client(base_url=url) as client,
    ):
        answer = client.get("/v1/parties/FR/feed.atom", headers={"host": "evil.example"})
    feed = ET.fromstring(answer.content)  # noqa: S314 - our own feed, under test
    links = [link.get("href") for link in feed.iter(f"{ATOM}link")]
    assert links
    assert all(h and h.startswith(public + "/") for h in links), links
    assert "vary" not in answer.headers


def test_an_incident_is_shown_with_its_chart(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("incident")
    with scene(tmp, f"sqlite:///{tmp / 'log.db'}") as s, serve(create_app(s.service)) as url:
        now = s.clock.text()
        body = {
            "iid": "ab" * 16, "to": "US", "monitor_id": "0" * 16,
            "asset": {"name": "cik.example", "kind": "election-body"}, "attack": "distributed-flood",
            "start": now, "end": now, "requests": 1000, "peak_per_minute": 300, "sources": 40,
            "origin": {"country": "US", "requests": 800, "sources": 40},
            "networks": [{"asn": 64500, "name": "Example Net", "requests": 500}],
            "clauses": [], "evidence": "cd" * 32, "attributed_actor": None,
        }  # fmt: skip
        s.submit(s.keys["RU"].certs.sign("incident", now, body))
        page = httpx.get(f"{url}/incidents").text
    assert "RU reports traffic from the territory of US" in page
    assert "<svg" in page
    assert "from US (all networks): 80.0%" in page
    assert "AS64500 Example Net: 50.0%" in page
    assert "1,000 requests" in page
