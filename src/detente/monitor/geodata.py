"""Build the offline attribution tables: ``python -m detente.monitor.geodata build``.

Inputs (no download at run time, nor here: both come from ordinary packages):

- country: Debian's ``tor-geoipdb`` (``/usr/share/tor/geoip`` and ``geoip6``), IPFire's location database
  as ranges, CC BY-SA 4.0;
- network: the npm package ``@ip-location-db/asn`` (``asn-ipv4-num.csv``, ``asn-ipv6-num.csv``),
  RouteViews, the five RIRs via the NRO, and DB-IP, CC BY 4.0.

Output, under ``src/detente/monitor/data/``: ``country.npz`` and ``asn.npz`` (sorted range tables) and
``sources.json`` (source, licence, date, version of each table), shown in every report.

Table invariants (checked by the tests):
- ``*_starts`` are strictly increasing boundaries, the first is 0; entry ``i`` covers
  ``[starts[i], starts[i+1])`` and the last entry runs to the top of the address space;
- value 0 means unknown (a gap in the source, or ``??``), so a lookup never guesses;
- IPv4 keys are the 32-bit address; IPv6 keys are the top 64 bits (the /64), the unit the detectors count.
  A source range that is not /64-aligned is widened to whole /64s; an overlap keeps the first range.
- the tables are stored uncompressed (``numpy.savez``), starts as absolute values: inflating deflated,
  delta-encoded tables and summing their starts cost a scan about 70 ms on its critical path (git and
  wheels compress the files anyway; docs/adr/0008-uncompressed-range-tables.md).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import ipaddress
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from detente.errors import ConfigError, DetenteError, MalformedError

DATA_DIR = Path(__file__).resolve().parent / "data"
TOR_GEOIP = Path("/usr/share/tor/geoip")
TOR_GEOIP6 = Path("/usr/share/tor/geoip6")
V4_TOP = 1 << 32
V6_TOP = 1 << 64

Range = tuple[int, int, int]  # first key, last key + 1, value


def compact(ranges: Iterable[Range], top: int) -> tuple[list[int], list[int]]:
    """Turn sorted ``(lo, hi_exclusive, value)`` ranges into boundaries and values, gaps as 0.

    Adjacent ranges with the same value merge, so the table is as small as the data allows.
    """
    starts: list[int] = [0]
    values: list[int] = [0]
    end = 0
    for lo, hi, value in ranges:
        lo = max(lo, end)
        if lo >= hi:
            continue
        if lo > end:
            _push(starts, values, end, 0)
        _push(starts, values, lo, value)
        end = hi
    if end < top:
        _push(starts, values, end, 0)
    return starts, values


def _push(starts: list[int], values: list[int], at: int, value: int) -> None:
    if values[-1] == value:
        return
    if starts[-1] == at:
        values[-1] = value
        if len(values) > 1 and values[-2] == value:
            starts.pop()
            values.pop()
        return
    starts.append(at)
    values.append(value)


def _data_lines(path: Path) -> Iterator[list[str]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.reader(line for line in fh if not line.startswith("#")):
                if row:
                    yield row
    except OSError as exc:
        hint = " (Debian: apt-get install tor-geoipdb)" if path in (TOR_GEOIP, TOR_GEOIP6) else ""
        raise ConfigError(f"cannot read {path}: {exc.strerror}{hint}") from exc


def _v6_range(lo_text: str, hi_text: str) -> tuple[int, int]:
    lo = int(lo_text) if lo_text.isdigit() else int(ipaddress.IPv6Address(lo_text))
    hi = int(hi_text) if hi_text.isdigit() else int(ipaddress.IPv6Address(hi_text))
    return lo >> 64, (hi >> 64) + 1


def country_ranges(v4: Path, v6: Path) -> tuple[list[str], list[Range], list[Range]]:
    """Read Tor's geoip files; return country names (index 0 is ``unknown``) and ranges per family."""
    names = ["unknown"]
    index: dict[str, int] = {"??": 0}

    def code(cc: str) -> int:
        if cc not in index:
            index[cc] = len(names)
            names.append(cc)
        return index[cc]

    r4 = [(int(a), int(b) + 1, code(cc)) for a, b, cc in _data_lines(v4)]
    r6 = [(*_v6_range(a, b), code(cc)) for a, b, cc in _data_lines(v6)]
    return names, sorted(r4), sorted(r6)


def asn_ranges(folder: Path) -> tuple[dict[int, str], list[Range], list[Range]]:
    """Read ``@ip-location-db/asn`` numeric CSVs; return organisations by ASN and ranges per family."""
    orgs: dict[int, str] = {}
    r4: list[Range] = []
    r6: list[Range] = []
    for name, out, v6 in (("asn-ipv4-num.csv", r4, False), ("asn-ipv6-num.csv", r6, True)):
        for row in _data_lines(folder / name):
            if len(row) < 3 or not row[2].isdigit():
                raise MalformedError(f"{name}: unexpected row {row!r}")
            asn = int(row[2])
            orgs.setdefault(asn, row[3] if len(row) > 3 else "")
            lo, hi = _v6_range(row[0], row[1]) if v6 else (int(row[0]), int(row[1]) + 1)
            out.append((lo, hi, asn))
    return orgs, sorted(r4), sorted(r6)


Table = tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint32]]  # starts, values


def _table(ranges: list[Range], top: int) -> Table:
    starts, values = compact(ranges, top)
    return np.asarray(starts, dtype=np.uint64), np.asarray(values, dtype=np.uint32)


def _blob(strings: list[str]) -> npt.NDArray[np.uint8]:
    return np.frombuffer("\n".join(strings).encode("utf-8"), dtype=np.uint8)


def _generated_date(path: Path) -> str:
    """The date the source says it was generated (Tor's header), else the file's modification date."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            found = re.search(r"Generated:\s*(.+)$", line)
            if found:
                parsed = dt.datetime.strptime(found.group(1).strip(), "%a, %d %b %Y %H:%M:%S %Z")
                return parsed.date().isoformat()
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
    return stamp.date().isoformat()


def _npm_version(folder: Path) -> str:
    package = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    return str(package.get("version", "unknown"))


def _version_date(version: str) -> str:
    """``@ip-location-db`` versions end in the build date (``2.3.2026061719`` -> 2026-06-17)."""
    found = re.search(r"(20\d{2})(\d{2})(\d{2})\d*$", version)
    return f"{found.group(1)}-{found.group(2)}-{found.group(3)}" if found else "unknown"


def write_tables(
    out: Path, names: list[str], country: tuple[Table, Table], orgs: dict[int, str], asn: tuple[Table, Table]
) -> None:
    """Write ``country.npz`` and ``asn.npz`` into ``out``: IPv4 starts as 32-bit integers, IPv6 starts
    as 64-bit, country values as 16-bit indexes into ``names``, ASN values as 32-bit numbers."""
    (c4s, c4v), (c6s, c6v) = country
    np.savez(
        out / "country.npz",
        v4_starts=c4s.astype(np.uint32),
        v4_values=c4v.astype(np.uint16),
        v6_starts=c6s,
        v6_values=c6v.astype(np.uint16),
        names=_blob(names),
    )
    (a4s, a4v), (a6s, a6v) = asn
    ids = sorted(orgs)
    np.savez(
        out / "asn.npz",
        v4_starts=a4s.astype(np.uint32),
        v4_values=a4v,
        v6_starts=a6s,
        v6_values=a6v,
        org_asn=np.asarray(ids, dtype=np.uint32),
        org_names=_blob([orgs[i].replace("\n", " ") for i in ids]),
    )


def build(asn_folder: Path, out: Path, v4: Path = TOR_GEOIP, v6: Path = TOR_GEOIP6) -> dict[str, object]:
    """Convert both sources into ``out``; return the metadata written to ``sources.json``."""
    out.mkdir(parents=True, exist_ok=True)
    names, c4, c6 = country_ranges(v4, v6)
    orgs, a4, a6 = asn_ranges(asn_folder)
    country = _table(c4, V4_TOP), _table(c6, V6_TOP)
    write_tables(out, names, country, orgs, (_table(a4, V4_TOP), _table(a6, V6_TOP)))
    version = _npm_version(asn_folder)
    meta: dict[str, object] = {
        "country": {
            "source": "IPFire Location database, as shipped by Debian tor-geoipdb",
            "licence": "CC BY-SA 4.0",
            "date": _generated_date(v4),
            "ranges": len(c4) + len(c6),
        },
        "asn": {
            "source": "@ip-location-db/asn (RouteViews, NRO RIR delegations, DB-IP ASN Lite)",
            "licence": "CC BY 4.0",
            "date": _version_date(version),
            "version": version,
            "ranges": len(a4) + len(a6),
        },
    }
    (out / "sources.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def main(argv: list[str] | None = None) -> int:
    """Command line: ``build --asn-folder node_modules/@ip-location-db/asn [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m detente.monitor.geodata")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="convert tor-geoipdb and @ip-location-db/asn into range tables")
    b.add_argument("--asn-folder", type=Path, required=True, help="folder of @ip-location-db/asn")
    b.add_argument("--geoip", type=Path, default=TOR_GEOIP)
    b.add_argument("--geoip6", type=Path, default=TOR_GEOIP6)
    b.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    try:
        meta = build(args.asn_folder, args.out, args.geoip, args.geoip6)
    except DetenteError as exc:  # one line, never a traceback (apt-get install tor-geoipdb, say)
        print(f"error: {exc}", file=sys.stderr)
        return 78
    print(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
