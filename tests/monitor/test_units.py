"""Units: addresses and proxies, range tables, the kernel's baseline, assets and the scorer."""

from __future__ import annotations

import ipaddress
import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from detente.errors import ConfigError, MalformedError
from detente.monitor import SCHEMA, detect
from detente.monitor.addr import NetworkSet, client_from_forwarded, parse_networks, source_key
from detente.monitor.assets import load_assets, parse_assets
from detente.monitor.attribution import load
from detente.monitor.features import SITE_SUMS, Tuning, nearest_quantile, site_windows
from detente.monitor.geodata import build, compact
from detente.monitor.output import read_incidents
from detente.monitor.score import score, score_files
from detente.monitor.terminal import summary

TRUSTED = NetworkSet(parse_networks(["10.0.0.0/8", "2001:db8:ff::/48"], "test"))
ADDR = st.ip_addresses(v=4).map(str)


@given(peer=ADDR, hops=st.lists(ADDR, max_size=5))
def test_forwarded_client_is_peer_or_rightmost_untrusted_hop(peer: str, hops: list[str]) -> None:
    got = client_from_forwarded(peer, hops, TRUSTED)
    if peer not in TRUSTED:
        assert got == peer
    else:
        untrusted = [h for h in hops if h not in TRUSTED]
        assert got == (untrusted[-1] if untrusted else (hops[0] if hops else peer))


def _with_port(address: str, port: int | None) -> str:
    """An X-Forwarded-For hop as a proxy may write it: IPv4 ``a:port``, IPv6 ``[a]:port`` or ``[a]``."""
    if ":" in address:
        return f"[{address}]" if port is None else f"[{address}]:{port}"
    return address if port is None else f"{address}:{port}"


HOP = st.one_of(ADDR, st.ip_addresses(v=6).map(str), st.sampled_from(["10.1.1.1", "2001:db8:ff::1"]))


@given(peer=st.sampled_from(["10.0.0.1", "2001:db8:ff::9"]), hops=st.lists(HOP, max_size=5), data=st.data())
def test_a_forwarded_hop_with_a_port_is_its_address(peer: str, hops: list[str], data: st.DataObject) -> None:
    ports = data.draw(st.lists(st.none() | st.integers(0, 65535), min_size=len(hops), max_size=len(hops)))
    written = [_with_port(h, p) for h, p in zip(hops, ports, strict=True)]
    assert client_from_forwarded(peer, written, TRUSTED) == client_from_forwarded(peer, hops, TRUSTED)


def test_forwarded_hops_are_read_with_or_without_a_port() -> None:
    for hop, client in [
        ("203.0.113.5:4711", "203.0.113.5"),
        ("[2001:db8::5]:4711", "2001:db8::5"),
        ("[2001:db8::5]", "2001:db8::5"),
        ("2001:db8::5", "2001:db8::5"),  # bare: its last group is no port
        ("2001:db8::5:4711", "2001:db8::5:4711"),
        ("[::ffff:203.0.113.5]:80", "::ffff:203.0.113.5"),
    ]:
        assert client_from_forwarded("10.0.0.1", [hop], TRUSTED) == client, hop
    # a trusted proxy's own hop is recognised with its port, and skipped
    assert client_from_forwarded("10.0.0.1", ["198.51.100.2", " 10.9.9.9:443"], TRUSTED) == "198.51.100.2"
    assert client_from_forwarded("10.0.0.1", ["unknown:1", "-"], TRUSTED) == "10.0.0.1"


def test_ipv6_sources_aggregate_per_64() -> None:
    assert source_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert source_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert source_key("nonsense") is None


@given(st.lists(st.tuples(st.integers(0, 999), st.integers(1, 50), st.integers(0, 5)), max_size=40))
def test_compact_table_invariants(raw: list[tuple[int, int, int]]) -> None:
    ranges = sorted((lo, lo + n, v) for lo, n, v in raw)
    starts, values = compact(ranges, 2000)
    assert starts[0] == 0
    assert all(a < b for a, b in itertools.pairwise(starts))
    assert all(a != b for a, b in itertools.pairwise(values))
    # every key gets the value of the first range that covers it (0 where none does)
    for key in range(0, 1100, 7):
        want = next((v for lo, hi, v in ranges if lo <= key < hi), 0)
        first = next(((lo, hi, v) for lo, hi, v in ranges if lo <= key < hi), None)
        idx = int(np.searchsorted(np.asarray(starts), key, side="right")) - 1
        if first is not None and not any(lo < first[0] < hi for lo, hi, _ in ranges):
            assert values[idx] == want


def test_attribution_known_and_unknown() -> None:
    geo = load()
    countries, asns = geo.lookup(["8.8.8.8", "10.1.1.1", "2a00:1450:4001:800::/64", "x"])
    assert countries == ["US", "unknown", "IE", "unknown"]
    assert asns[0] == 15169
    assert asns[1] == 0
    assert asns[3] == 0
    assert geo.org(0) == "unknown"
    starts = geo.country4.starts
    assert starts[0] == 0
    assert bool(np.all(np.diff(starts.astype(np.int64)) > 0))


def test_attribution_as_columns_equals_the_lookup() -> None:
    geo = load()
    keys = ["8.8.8.8", "10.1.1.1", "2a00:1450:4001:800::/64", "x", "2001:db8::1/64", "fe80::1%eth0"]
    countries, asns = geo.lookup(keys)
    country, asn = geo.attribute(pl.Series("src", keys))
    assert country.to_list() == countries
    assert asn.to_list() == [str(a) for a in asns]
    assert geo.attribute(pl.Series("src", ["1.1.1.1"]))[0].to_list() == geo.lookup(["1.1.1.1"])[0]  # no IPv6


# IPv6 ranges whose registration says nothing of the sender (IANA's special-purpose registry): a first
# and a last address of each
NO_TERRITORY = (
    "::/64",
    "64:ff9b::/64",
    "64:ff9b:1::/48",
    "100::/64",
    "100:0:0:1::/64",
    "2001::/32",
    "2001:2::/48",
    "2001:10::/28",
    "2001:20::/28",
    "2001:30::/28",
    "2001:db8::/32",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
)


def test_nat64_addresses_count_and_are_attributed_as_the_ipv4_address_they_carry() -> None:
    # an IPv4 client translated for an IPv6-only server (RFC 6052's well-known prefix): as a /64, every
    # IPv4 client of the translator would be one source of no territory
    for text in ("64:ff9b::808:808", "64:ff9b::8.8.8.8", "0064:ff9b:0000:0000:0000:0000:0808:0808"):
        assert source_key(text) == "8.8.8.8", text
    assert source_key("64:ff9b::c000:201") == "192.0.2.1"
    assert source_key("64:ff9b::1:0:0:1") == "64:ff9b::/64"  # past the /96: no IPv4 address in it
    assert source_key("64:ff9b:1::808:808") == "64:ff9b:1::/64"  # the local-use prefix embeds per network
    assert load().lookup(_keys(["64:ff9b::808:808"])) == (["US"], [15169])
    assert "64:ff9b::192.0.2.9" in NetworkSet(parse_networks(["192.0.2.0/24"], "test"))


def _keys(texts: list[str]) -> list[str]:
    keys = [source_key(t) for t in texts]
    assert all(keys)
    return [k for k in keys if k]


@pytest.mark.parametrize("network", NO_TERRITORY)
def test_special_purpose_ipv6_ranges_are_attributed_to_no_territory(network: str) -> None:
    net = ipaddress.IPv6Network(network)
    # the table gives 2001::/32 (Teredo) to AS6939 and 2001:2::/48 and 2001:10::/28 to Japan
    # (not 64:ff9b::1: the /96 of NAT64's prefix is read as IPv4)
    inside = [net.network_address + (1 << 32), net.network_address + (1 << 80) - 1, net.broadcast_address]
    keys = _keys([str(a) for a in inside if a in net])
    assert all(":" in k for k in keys)
    assert load().lookup(keys) == (["unknown"] * len(keys), [0] * len(keys))


def test_6to4_addresses_are_attributed_as_the_ipv4_address_they_carry() -> None:
    geo = load()
    # 2002:AABB:CCDD::/48 is the 6to4 site of the IPv4 address AA.BB.CC.DD; the table's range for
    # 2002::/16 (Japan, AS6939) is the relay operator's, whoever sent the packet
    pairs = {
        "2002:808:808::1": "8.8.8.8",
        "2002:101:101:ffff::2": "1.1.1.1",
        "2002:c000:201::": "192.0.2.1",
        "2002:a00:1::1": "10.0.0.1",
        "2002:ffff:ffff:1:2:3:4:5": "255.255.255.255",
    }
    keys = _keys(list(pairs))
    assert geo.lookup(keys) == geo.lookup(list(pairs.values()))
    assert geo.lookup(keys)[1][0] == 15169
    # the same read vectorised (more keys than are read one by one), and as columns
    many = keys * 5000
    assert geo.lookup(many) == geo.lookup(list(pairs.values()) * 5000)
    country, asn = geo.attribute(pl.Series("src", keys))
    assert (country.to_list(), asn.to_list()) == (geo.lookup(keys)[0], [str(a) for a in geo.lookup(keys)[1]])
    # a global range near them keeps what the tables say
    assert geo.lookup(["2001:4:112::/64", "2003::/64"])[1][0] == 112


def _small_sources(folder: Path) -> tuple[Path, Path, Path]:
    """Tor's geoip files and @ip-location-db/asn's CSVs, a few ranges each, as the packages ship them."""
    v4, v6, asn = folder / "geoip", folder / "geoip6", folder / "asn"
    v4.write_text(
        "# Generated: Tue, 16 Jun 2026 08:00:00 GMT\n16777216,16777471,AU\n134744064,134744319,US\n"
    )
    v6.write_text("2001:200::,2001:200:ffff:ffff:ffff:ffff:ffff:ffff,JP\n2a00:1450::,2a00:1450:ffff::,IE\n")
    asn.mkdir()
    (asn / "package.json").write_text('{"version": "2.3.2026061719"}')
    (asn / "asn-ipv4-num.csv").write_text(
        '134744064,134744319,15169,Google LLC\n16777216,16777471,13335,"Cloudflare, Inc."\n'
    )
    (asn / "asn-ipv6-num.csv").write_text(
        "2001:200::,2001:200:ffff:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project\n"
    )
    return v4, v6, asn


def test_tables_built_from_the_packages_attribute_what_the_sources_say(tmp_path: Path) -> None:
    v4, v6, asn = _small_sources(tmp_path)
    meta = build(asn, tmp_path / "out", v4, v6)
    assert meta["country"] == {
        "source": "IPFire Location database, as shipped by Debian tor-geoipdb",
        "licence": "CC BY-SA 4.0",
        "date": "2026-06-16",
        "ranges": 4,
    }
    geo = load(tmp_path / "out")
    keys = [
        "1.0.0.0",
        "1.0.0.255",
        "1.0.1.0",
        "8.8.8.8",
        "0.255.255.255",
        "2001:200:5::/64",
        "2a00:1450:1::/64",
        "::/64",
    ]
    countries, asns = geo.lookup(keys)
    assert countries == ["AU", "AU", "unknown", "US", "unknown", "JP", "IE", "unknown"]
    assert asns == [13335, 13335, 0, 15169, 0, 2500, 0, 0]
    assert [geo.org(a) for a in (13335, 15169, 2500, 0, 64512)] == [
        "Cloudflare, Inc.",
        "Google LLC",
        "WIDE Project",
        "unknown",
        "unknown",
    ]
    assert geo.org_names([2500, 64512, 13335, 0, 2500]) == [
        "WIDE Project",
        "unknown",
        "Cloudflare, Inc.",
        "unknown",
        "WIDE Project",
    ]
    assert geo.sources == json.loads((tmp_path / "out" / "sources.json").read_text())


def test_damaged_tables_are_refused_with_the_command_that_rebuilds_them(tmp_path: Path) -> None:
    v4, v6, asn = _small_sources(tmp_path)
    build(asn, tmp_path / "out", v4, v6)
    tables = dict(np.load(tmp_path / "out" / "asn.npz"))
    np.savez(tmp_path / "out" / "asn.npz", **(tables | {"org_asn": tables["org_asn"][:1]}))
    with pytest.raises(ConfigError, match=r"missing or damaged.*geodata build"):
        load(tmp_path / "out")


def _bucket(**kw: float) -> dict[str, float]:
    base = dict.fromkeys(("R60", "F60", "OK60", "M60", "PV60", "HC", "PC", "FMAX", "MMAX"), 0.0)
    base["R60"] = 300.0
    return base | kw


def test_kernel_opens_after_confirmation_and_closes_after_gap() -> None:
    t = Tuning()
    state = detect.initial(300.0)
    at = datetime(2026, 6, 14, tzinfo=UTC)
    step = timedelta(seconds=10)
    events = []
    for i in range(60):
        hot = 10 <= i < 20
        state, ev = detect.step(state, at + i * step, _bucket(HC=1.0 if hot else 0.0), t)
        events += ev
    assert [(e.family, e.action) for e in events] == [("flood", "open"), ("flood", "close")]
    assert events[0].start == at + 10 * step
    assert events[1].end == at + 19 * step


def test_a_lone_trigger_is_forgotten_and_baseline_frozen_during_episode() -> None:
    t = Tuning()
    state = detect.initial(300.0)
    at = datetime(2026, 6, 14, tzinfo=UTC)
    state, ev = detect.step(state, at, _bucket(HC=1.0), t)
    state, ev2 = detect.step(state, at + timedelta(seconds=10), _bucket(), t)
    assert ev == ev2 == []
    assert not state.episodes
    state, _ = detect.step(state, at, _bucket(HC=1.0, R60=5000.0), t)
    assert state.stats["R60"].mean == pytest.approx(300.0, rel=0.2)


def _ramp(state: detect.AssetState, minutes: int, t: Tuning) -> tuple[detect.AssetState, list[str]]:
    """Persistent sources ramping up for ``minutes`` on a site of 300/min, 30 of them persistent."""
    at = datetime(2026, 6, 14, 7, tzinfo=UTC)
    opened = []
    for i in range(minutes * 6):
        share = min(i / (minutes * 6 / 2), 1.0)  # up over the first half, then steady
        extra = 5000.0 * share
        sources = 400.0 * share
        b = _bucket(R60=300.0 + extra, PV60=30.0 + extra, PC=sources)
        state, events = detect.step(state, at + timedelta(seconds=10 * i), b, t)
        opened += [e.family for e in events if e.action == "open"]
    return state, opened


def test_a_slow_distributed_flood_cannot_teach_the_baseline_to_accept_it() -> None:
    t = Tuning()
    # a noisy past (a flash crowd an hour ago): the volume bar stands far above the usual 300/min
    usual = detect.initial(300.0)
    noisy = replace(usual, stats={**usual.stats, "R60": detect.Stat(300.0, 90_000.0)})
    _, opened = _ramp(noisy, 40, t)
    assert opened == ["dflood"]
    # with the pause capped at zero buckets the baselines chase the ramp, as they used to, and it is missed
    _, unguarded = _ramp(noisy, 40, replace(t, suspect_buckets=0))
    assert unguarded == []


def test_baselines_learn_again_once_a_persistent_surge_outlasts_the_pause() -> None:
    t = replace(Tuning(), suspect_buckets=30)
    state = detect.initial(300.0)
    at = datetime(2026, 6, 14, tzinfo=UTC)
    calm = _bucket(PV60=200.0, PC=20.0)  # twenty steady sources, site volume as usual: no trigger
    for i in range(30):
        state, _ = detect.step(state, at + timedelta(seconds=10 * i), calm, t)
    assert state.suspect == 30
    assert state.stats["PV60"].mean == 0.0  # paused for the first thirty buckets...
    state, _ = detect.step(state, at + timedelta(seconds=300), calm, t)
    assert state.stats["PV60"].mean > 0.0  # ...then learning again: the fleet becomes the normal


@settings(max_examples=30)
@given(st.lists(st.floats(0, 1e4), min_size=1, max_size=50))
def test_baseline_stat_stays_finite_and_nonnegative(xs: list[float]) -> None:
    s = detect.Stat()
    for x in xs:
        s = s.update(x, 0.1)
    assert s.var >= 0
    assert s.sigma() >= 1.0
    assert 0 <= s.mean <= max(xs) + 1e-6


def test_assets_refuse_bad_config() -> None:
    with pytest.raises(ConfigError, match="kind"):
        parse_assets('[[asset]]\nname = "a"\nkind = "bank"\n')
    with pytest.raises(ConfigError, match="not an IP network"):
        parse_assets('[[asset]]\nname = "a"\nallow = ["nope"]\n')
    with pytest.raises(ConfigError, match="unique"):
        parse_assets('[[asset]]\nname = "a"\n[[asset]]\nname = "a"\n')
    with pytest.raises(ConfigError, match="TOML"):
        parse_assets("[[asset")
    with pytest.raises(ConfigError, match="unknown key 'allow_file'"):  # a typo must not allow nothing
        parse_assets('[[asset]]\nname = "a"\nallow_file = ["ours.txt"]\n')
    with pytest.raises(ConfigError, match="expect: unknown key 'requests_per_hour'"):
        parse_assets('[[asset]]\nname = "a"\n[asset.expect]\nrequests_per_hour = 5\n')
    with pytest.raises(ConfigError, match="ISO 3166-1 alpha-2"):
        parse_assets('[[asset]]\nname = "a"\nparty = "Russia"\n')
    with pytest.raises(ConfigError, match="login path must be a path"):  # it could match NO_TARGET
        parse_assets('[[asset]]\nname = "a"\nlogin_paths = ["<no target>"]\n')
    assert parse_assets('[[asset]]\nname = "a"\nparty = "RU"\n')[0].party == "RU"


GOOGLEBOT = {  # the shape of https://developers.google.com/static/search/apis/ipranges/googlebot.json
    "creationTime": "2026-06-01T00:00:00.000000",
    "prefixes": [{"ipv6Prefix": "2001:4860:4801:10::/64"}, {"ipv4Prefix": "66.249.64.0/27"}],
}


def test_allow_files_read_published_crawler_ranges_and_cidr_lists(tmp_path: Path) -> None:
    (tmp_path / "googlebot.json").write_text(json.dumps(GOOGLEBOT))
    (tmp_path / "own.txt").write_text("# our monitoring\n192.0.2.0/28  # probes\n\n198.51.100.7\n")
    config = tmp_path / "assets.toml"
    config.write_text(
        '[[asset]]\nname = "a"\nallow = ["203.0.113.9"]\nallow_files = ["googlebot.json", "own.txt"]\n'
    )
    allow = load_assets(config)[0].allow
    for inside in ("66.249.64.31", "2001:4860:4801:10::1", "192.0.2.15", "198.51.100.7", "203.0.113.9"):
        assert inside in allow, inside
    for outside in (
        "66.249.64.32",
        "2001:4860:4801:11::1",
        "192.0.2.16",
        "198.51.100.8",
        "junk",
        "::ffff:1.2.3.4",
    ):
        assert outside not in allow, outside


def test_allow_files_that_are_missing_or_not_range_lists_are_refused(tmp_path: Path) -> None:
    config = '[[asset]]\nname = "a"\nallow_files = ["list.json"]\n'
    with pytest.raises(ConfigError, match="cannot read allow file"):
        parse_assets(config, base=tmp_path)
    (tmp_path / "list.json").write_text('{"prefixes": [{"ipv5Prefix": "x"}]}')
    with pytest.raises(ConfigError, match="not a published range list"):
        parse_assets(config, base=tmp_path)
    (tmp_path / "list.json").write_text("10.0.0.0/33\n")
    with pytest.raises(ConfigError, match="not an IP network"):
        parse_assets(config, base=tmp_path)


@given(
    st.lists(st.ip_addresses(v=4).map(lambda a: f"{a}/{24 + int(a) % 9}"), max_size=6), st.ip_addresses(v=4)
)
def test_network_set_membership_equals_a_walk_over_its_networks(
    nets: list[str], addr: ipaddress.IPv4Address
) -> None:
    networks = parse_networks(nets, "test")
    walk = any(addr in n for n in networks)
    assert (str(addr) in NetworkSet(networks)) == walk


def test_monitor_documents_of_another_schema_or_not_json_are_refused(tmp_path: Path) -> None:
    doc = tmp_path / "doc.json"
    doc.write_text('{"schema": "detente.monitor.truth/1"}')
    with pytest.raises(MalformedError, match=f"not a document of schema {SCHEMA}"):
        score_files(doc, doc, doc)
    doc.write_text("{not json")
    with pytest.raises(MalformedError, match="not a readable JSON document"):
        read_incidents(doc)


def test_scorer_counts_matches_sources_and_times() -> None:
    truth = {
        "attacks": [
            {
                "kind": "flood",
                "start": "2026-06-14T01:00:00Z",
                "end": "2026-06-14T01:30:00Z",
                "sources": ["192.0.2.1", "192.0.2.2"],
            }
        ]
    }
    incidents = [
        {"id": "a", "kind": "flood", "start": "2026-06-14T01:01:00Z", "end": "2026-06-14T01:29:00Z"},
        {"id": "b", "kind": "scan", "start": "2026-06-14T03:00:00Z", "end": "2026-06-14T03:10:00Z"},
    ]
    s = score(truth, incidents, {"a": ["192.0.2.1", "198.51.100.1"]})
    row = s["flood"].row()
    assert (row["precision"], row["recall"]) == (1.0, 1.0)
    assert (row["source_precision"], row["source_recall"]) == (0.5, 0.5)
    assert (row["start_error_s"], row["end_error_s"]) == (60.0, 60.0)
    assert s["scan"].row()["precision"] == 0.0


def test_networks_parse_v6() -> None:
    nets = parse_networks(["2001:db8::/32"], "x")
    assert nets == (ipaddress.ip_network("2001:db8::/32"),)


def test_the_terminal_summary_prints_a_documents_text_as_it_is() -> None:
    console = Console(record=True, width=200)
    hostile = "[/x][link=https://example.org]cec[/link]"
    doc = {
        "input": {"lines_read": 1, "lines_parsed": 1, "lines_rejected": 0, "first": "t0", "last": "t1"},
        "incidents": [
            {
                "asset": hostile, "kind": "flood", "start": "s", "end": "e",
                "requests": {"total": 1, "peak_per_minute": 1}, "sources": {"distinct": 1},
                "origins": {"countries": [{"key": "[bold]XX", "request_share": 1.0}]},
                "reasons": ["a reason with [/] in it"],
            }
        ],
        "attribution": {"note": "[dim]data[/]"},
    }  # fmt: skip
    summary(doc, console)
    text = console.export_text()
    assert hostile in text
    assert "a reason with [/] in it" in text
    assert "[dim]data[/]" in text


def test_a_silence_of_years_is_not_filled_bucket_by_bucket() -> None:
    then = datetime(2023, 10, 10, 13, 55, 30, tzinfo=UTC)
    buckets = pl.DataFrame(
        {"asset": ["a", "a", "a"], "bucket": [then, then + timedelta(seconds=20), then.replace(year=2033)]}
    ).with_columns(pl.lit(1).alias(c) for c in SITE_SUMS)
    windows = site_windows(buckets)
    assert windows.height == 4  # the two close buckets, the empty one between them, and the far one
    assert windows["R60"].to_list() == [1, 1, 2, 1]  # the far bucket's window holds only itself


@settings(max_examples=300)
@given(
    st.lists(st.integers(0, 60), max_size=400),
    st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0]),
)
def test_nearest_quantile_is_the_quantile_polars_takes(values: list[int], q: float) -> None:
    """The engine's heavy-rate bar (``Engine._bars``) reads quantiles in numpy: the same values as Polars'
    ``nearest`` (which rounds a half away from zero, where numpy's rounds it to even)."""
    got = nearest_quantile(np.array(values, dtype=np.int64), q)
    assert got == pl.Series(values, dtype=pl.Int64).quantile(q)


def test_nearest_quantile_rounds_a_half_away_from_zero() -> None:
    values = np.arange(151, dtype=np.int64)  # (151 - 1) * 0.99 = 148.5
    assert nearest_quantile(values, 0.99) == 149.0
    assert float(np.quantile(values, 0.99, method="nearest")) == 148.0  # what numpy's own would give
