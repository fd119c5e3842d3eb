"""The verify page in a real browser: WebCrypto in the page checks a proof and refuses a tampered one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from detente.tlog.log import Log
from detente.tlog.note import Signer
from detente.tlog.proof import format_tlog_proof
from detente.tlog.storage import MemoryStore
from tests.web.browser import chromium
from tests.web.logsite import log_site

SIGNER = Signer.generate("browser.example/log")


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, Log]]:
    log = Log.create(MemoryStore(), SIGNER)
    log.append([f"statement {i}".encode() for i in range(40)])
    with log_site(log) as url:
        yield url, log


@pytest.fixture(scope="module")
def browser_page() -> Iterator[Page]:
    with chromium() as browser:
        page = browser.new_page()
        yield page
        page.close()


def _verify(page: Page, url: str, proof: Path, entry: Path) -> None:
    page.goto(f"{url}/verify")
    page.set_input_files("#proof-file", str(proof))
    page.set_input_files("#entry-file", str(entry))
    page.click("#verify-proof")


def test_a_proof_is_verified_in_the_page(site: tuple[str, Log], browser_page: Page, tmp_path: Path) -> None:
    url, log = site
    (tmp_path / "p").write_text(format_tlog_proof(17, log.inclusion_proof(17), log.signed_checkpoint))
    (tmp_path / "e").write_bytes(b"statement 17")
    _verify(browser_page, url, tmp_path / "p", tmp_path / "e")
    expect(browser_page.locator("#verdict")).to_have_text("Proven.")
    expect(browser_page.locator("#result")).to_contain_text("Entry 17 is in the log browser.example/log")


def test_a_tampered_proof_is_refused_in_the_page(
    site: tuple[str, Log], browser_page: Page, tmp_path: Path
) -> None:
    url, log = site
    proof = format_tlog_proof(17, log.inclusion_proof(17), log.signed_checkpoint)
    (tmp_path / "p").write_text(proof.replace("index 17", "index 18"))
    (tmp_path / "e").write_bytes(b"statement 17")
    _verify(browser_page, url, tmp_path / "p", tmp_path / "e")
    expect(browser_page.locator("#verdict")).to_have_text("Refused.")
