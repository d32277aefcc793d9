"""`ipamctl report --html` rendered in headless Chromium: the DOM it shows carries the pool tree, the
utilization figures, the overlap and noncompliant rows and the history chart; the page is
self-contained (no scripts, nothing from the network).

Chromium is a system package, not a Python one. CI (``CI=true``; .ci/run installs Chromium) runs
these tests without fail: there a missing browser fails them. On a developer's machine without it
they are skipped with the reason and the install command, so README's test command passes on a
fresh machine that has only Python.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.cli.test_report import ids, oob_vpc

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


MISSING = ("Chromium is not installed, and the HTML report test renders the page in headless Chromium. "
           "Install it (Debian: apt-get update && apt-get install -y chromium; .ci/run does this).")


def chromium(environ=os.environ, which=shutil.which) -> str:
    exe = environ.get("CHROMIUM") or which("chromium") or which("chromium-browser")
    if exe:
        return exe
    if environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(MISSING + " CI must run this test.", pytrace=False)
    pytest.skip(MISSING + " Skipped outside CI (CI=true makes it fail).")


def test_missing_chromium_fails_in_ci_and_is_skipped_elsewhere():
    nothing = lambda name: None  # noqa: E731
    with pytest.raises(pytest.fail.Exception, match="CI must run this test"):
        chromium({"CI": "true"}, nothing)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        chromium({}, nothing)
    assert chromium({"CHROMIUM": "/opt/chromium"}, nothing) == "/opt/chromium"


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    proc = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


class Text(HTMLParser):
    """The text a page shows, one string per element, without <style> and <title> content."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.skip += tag in ("style", "title")

    def handle_endtag(self, tag):
        self.skip -= tag in ("style", "title")

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.parts.append(data.strip())


def rows(dom: str, css_class: str) -> list[str]:
    out = []
    for match in re.finditer(rf'<tr class="{css_class}"[^>]*>(.*?)</tr>', dom, re.S):
        parser = Text()
        parser.feed(match.group(1))
        out.append(" ".join(parser.parts))
    return out


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_html_report_in_chromium(example, tmp_path):
    chromium()  # fail or skip before any work
    example.run("apply", "--auto-approve", check=0)
    known = ids(example)
    example.run("report", "--history", check=0)
    legacy, legacy_vsw = oob_vpc(example, "10.0.0.0/16", "10.0.0.0/24")
    example.run("report", "--history", check=0)
    dev, _ = oob_vpc(example, "", Ipv4IpamPoolId=known["ipam_pool.hz-trade-dev"], Ipv4CidrMask="23")
    pools = example.root / "specs" / "10-pools.yaml"
    head, _, tail = pools.read_text().partition("hz-trade-dev:")
    pools.write_text(head + "hz-trade-dev:" + tail.replace("max_mask: 24}", "max_mask: 22}", 1))
    example.run("apply", "--auto-approve", check=0)
    page = example.root / "report.html"
    out = example.run("report", "--history", "--html", str(page), check=0)
    assert f"Wrote the report to {page}." in out.stdout

    html = page.read_text()
    assert "<script" not in html.lower() and "<link" not in html.lower() and "<img" not in html.lower()
    assert not re.search(r"\b(src|href)\s*=", html)
    assert re.findall(r"url\(([^)]*)\)", html) == ["#hatch"] * html.count("url(#hatch)")
    assert set(re.findall(r"https?://[^\s\"')]+", html)) == {"http://www.w3.org/2000/svg"}  # SVG namespace only

    dom = run_chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    shown = Text()
    shown.feed(dom)
    text = " ".join(shown.parts)
    pool_rows = rows(dom, "pool")
    assert [r.split()[0] for r in pool_rows] == [
        "root", "└─", "└─", "└─", "└─", "└─", "└─", "└─", "└─", "└─", "└─", "└─", "acquired-root", "v6"]
    by_name = {r.replace("└─", "").split()[0]: r for r in pool_rows}
    assert set(by_name) == {"root", "hz", "hz-trade", "hz-trade-prod", "hz-trade-test", "hz-trade-dev", "hz-payments",
                            "hz-payments-prod", "sh", "sh-trade", "sh-trade-prod", "bj", "acquired-root", "v6"}
    assert "10.0.0.0/8 38.28% 16,777,216 6,291,456 131,072 10,354,688 10.128.0.0/10" in by_name["root"]
    assert "10.0.0.0/15 75.00% 131,072 98,304 0 32,768 10.1.128.0/17 12.50%" in by_name["hz-trade"]
    assert "10.1.0.0/17 1.56% 32,768 0 512 32,256 10.1.64.0/18 75.00%" in by_name["hz-trade-dev"]
    assert "2408:4000::/48 0.39% 2 80 0 2 72 255 × 2 72 2408:4000:0:8000::/49" in by_name["v6"]
    overlaps = rows(dom, "overlap")
    assert sorted(overlaps) == sorted([
        f"private vpc (discovered) {legacy} 10.0.0.0/16 vpc.trade-prod {known['vpc.trade-prod']} 10.0.0.0/20",
        f"private vpc (discovered) {legacy} 10.0.0.0/16 vpc.trade-prod {known['vpc.trade-prod']} 10.0.16.0/22",
        f"private vpc (discovered) {legacy} 10.0.0.0/16 vpc.trade-test {known['vpc.trade-test']} 10.0.128.0/22",
        f"private vswitch.trade-prod-h {known['vswitch.trade-prod-h']} 10.0.0.0/24 vswitch (discovered) {legacy_vsw} "
        "10.0.0.0/24"])
    assert rows(dom, "noncompliant") == [
        f"vpc (discovered) {dev} 10.1.0.0/23 hz-trade-dev mask /23 is longer than the pool's max_mask /22"]
    assert "Overlaps within each scope (4)" in text and "Noncompliant resources (1)" in text
    assert "History (3 recorded runs)" in text
    for name in ("root 10.0.0.0/8", "hz-trade-dev 10.1.0.0/17"):  # address map headings
        assert name in text
    assert "hz 10.0.0.0/11" in text and "free 10,354,688" in text  # map labels inside blocks
    # the monitoring charts of each scope, from the three recorded runs
    runs = [json.loads(x)["timestamp"] for x in (example.root / "state" / "report-history.jsonl").read_text().splitlines()]
    assert len(runs) == 3
    panels = dict(re.findall(r'<div class="panel scope-chart" id="chart-([^"]+)">(.*?)</details></div>', dom, re.S))
    assert list(panels) == ["private", "public", "acquired"]
    private = re.findall(r'<svg class="chart".*?</svg>', panels["private"], re.S)
    assert len(private) == 3  # pools; VPC and vSwitch blocks; the counts
    pools_chart, usage_chart, counts_chart = private
    assert pools_chart.count("<circle") == 3 * 10 and "ipam_pool.root 38.28%" in pools_chart  # 12 pools, 10 drawn
    assert "2 more series in the table below." in panels["private"]
    assert "vswitch.trade-prod-i 10.0.1.0/24 27.34%" in usage_chart and "threshold 90.00%" in usage_chart
    assert counts_chart.count("<circle") == 3 * 3
    # run 2 added the IPAM-less VPC and vSwitch: 6 overlapping CIDRs (them, trade-prod's two blocks, trade-test's,
    # trade-prod-h), 2 unmanaged; run 3 the noncompliant /23
    for legend in ("overlapping CIDR blocks 6", "unmanaged CIDRs 2", "noncompliant CIDRs 1"):
        assert legend in counts_chart
    assert counts_chart.count('class="threshold"') == 1  # overlaps: 0 and noncompliant: 0 share one line
    crossings = re.findall(r'<rect class="crossing"[^>]*><title>([^<]*)</title>', counts_chart)
    assert crossings == [f"overlapping CIDR blocks crossed 0 at {runs[1]}", f"noncompliant CIDRs crossed 0 at {runs[2]}"]
    table = rows(panels["private"], "series crossed")
    assert f"overlapping CIDR blocks 6 ▲ +6.00 0 since {runs[1]}" in table
    assert f"noncompliant CIDRs 1 ▲ +1.00 0 since {runs[2]}" in table
    pool_rows = rows(panels["private"], "series ")
    assert "ipam_pool.hz-trade 75.00% ▶ 0.00 pts 80.00% -" in pool_rows
    assert "ipam_pool.hz-trade-dev 1.56% ▲ +1.56 pts 80.00% -" in pool_rows  # the /23 drawn from it in run 3
    assert rows(dom, "alert") == ["overlaps private scope private 6 0", "noncompliant private scope private 1 0"]
    assert "Thresholds crossed (2)" in text

    shot = tmp_path / "report.png"
    run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    assert png_size(shot) == (1280, 2000) and shot.stat().st_size > 50_000  # a rendered page, not a blank one
