"""The registry's pages in Debian's Chromium: home, an exchange and its letters, a bundle verified in the
page and a tampered one refused; at phone and desktop widths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from detente.service.app import create_app
from tests.accords.world import LOG_SIGNER
from tests.httpserver import serve
from tests.service.scene import Scene, scene
from tests.web import forged
from tests.web.browser import chromium


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Scene, str]]:
    tmp = tmp_path_factory.mktemp("browser")
    with scene(tmp, f"sqlite:///{tmp / 'log.db'}") as s, serve(create_app(s.service)) as url:
        yield s, url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.mark.parametrize("width", [375, 1280])
def test_home_then_an_exchange_and_its_letters(site: tuple[Scene, str], browser: Browser, width: int) -> None:
    _s, url = site
    page = browser.new_page(viewport={"width": width, "height": 900}, java_script_enabled=False)
    page.goto(url)
    expect(page.locator("#matrix")).to_contain_text("1 in force")
    expect(page.locator("h2", has_text="Latest checkpoint")).to_be_visible()
    page.get_by_role("link", name="RU → US").click()
    expect(page.locator("#phase")).to_have_text("concluded")
    expect(page.locator("ol.timeline li")).to_have_count(4)
    first = page.locator("#letter-1")
    expect(first).to_contain_text("I have the honour to inform you that the Government of RU")
    expect(page.locator("#letter-2")).to_contain_text("the Government of US gives the following assurances")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "no sideways scrolling"
    page.close()


def _verify_bundle(page: Page, url: str, path: Path) -> None:
    page.goto(f"{url}/verify")
    page.set_input_files("#bundle-file", str(path))
    page.click("#verify-bundle")


def test_a_bundle_is_verified_in_the_page(site: tuple[Scene, str], browser: Browser, tmp_path: Path) -> None:
    s, url = site
    data = httpx.get(f"{url}/v1/bundles/concluded/{s.ids['concluded']}").content
    (tmp_path / "b.json").write_bytes(data)
    page = browser.new_page()
    _verify_bundle(page, url, tmp_path / "b.json")
    expect(page.locator("#verdict")).to_have_text("Proven.")
    expect(page.locator("#result")).to_contain_text(
        f"the exchange of letters {s.ids['concluded']} between RU and US was concluded"
    )
    page.close()


def test_a_tampered_bundle_is_refused_in_the_page(
    site: tuple[Scene, str], browser: Browser, tmp_path: Path
) -> None:
    s, url = site
    data = httpx.get(f"{url}/v1/bundles/refused/{s.ids['refused']}").content
    tampered = data.replace(b'"party":"FR"', b'"party":"RU"', 1)
    assert tampered != data
    (tmp_path / "b.json").write_bytes(tampered)
    page = browser.new_page()
    _verify_bundle(page, url, tmp_path / "b.json")
    expect(page.locator("#verdict")).to_have_text("Refused.")
    expect(page.locator("#result")).to_contain_text("do not prove its claim")
    page.close()


def test_a_bundle_detente_verify_refuses_is_refused_in_the_page(
    site: tuple[Scene, str], browser: Browser, tmp_path: Path
) -> None:
    _, url = site
    (tmp_path / "b.json").write_bytes(forged.REFUSED["a declaration body without most of its fields"]())
    page = browser.new_page()
    page.goto(f"{url}/verify")
    page.fill("#log-key", LOG_SIGNER.vkey)  # the forged bundles' log
    page.set_input_files("#bundle-file", str(tmp_path / "b.json"))
    page.click("#verify-bundle")
    expect(page.locator("#verdict")).to_have_text("Refused.")
    expect(page.locator("#result")).to_contain_text("$.body lacks clauses, effective, notice_days, summary")
    page.close()
