"""`disentangle report --html` and the page `disentangle run` leaves in the run folder: one
self-contained file, checked as text and in a real headless browser (Chromium through
selenium; those tests skip where either is missing)."""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from support.tiny import TINY_RECIPE
from typer.testing import CliRunner

from disentangle.cli import app
from disentangle.recipe import validate_recipe
from disentangle.training.loop import train

runner = CliRunner()

#: user input that must reach the page as text, never as markup
HOSTILE = '</pre><script>alert("x")</script><img src="http://example.com/a.png"> & \'q\''
#: (seed, method.lr_g, MIG) of the three runs: a grid of two learning rates
RUNS = ((1, 1e-3, 0.3), (2, 5e-4, 0.1), (3, 1e-3, 0.2))


def evaluation(run: Path, mig: float) -> dict[str, Any]:
    """An eval.json as `disentangle eval --chance` writes it (its keys and shapes)."""
    nmi = {"shape": 0.02, "scale": 0.4, HOSTILE: 0.1}
    return {
        "run": str(run),
        "iteration": 6,
        "dataset": "procedural",
        "seed": 0,
        "fast": True,
        "metrics": {"mig": {"mig": mig}},
        "chance": {"mig": {"mig": 0.03}},
        "codes": {
            "shape": {"factor": "shape", "nmi": 0.02, "all": nmi},
            "x": {"factor": "scale", "nmi": 0.4, "all": nmi},
        },
        "skipped": {},
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three tiny evaluated runs; the first one's folder name and description are hostile."""
    root = tmp_path_factory.mktemp("runs")
    folders = []
    for seed, lr_g, mig in RUNS:
        recipe = copy.deepcopy(TINY_RECIPE)
        recipe["name"] = f"tiny-seed{seed}"
        recipe["description"] = HOSTILE
        recipe["train"]["seed"] = seed
        recipe["method"] = {"type": "infogan", "lr_g": lr_g}
        folder = root / (f"<b>run&{seed}\"'" if seed == 1 else f"run{seed}")
        train(validate_recipe(recipe), folder)
        (folder / "eval.json").write_text(json.dumps(evaluation(folder, mig)))
        folders.append(folder)
    return folders


@pytest.fixture(scope="module")
def grid_page(runs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    page = tmp_path_factory.mktemp("pages") / "grid.html"
    result = runner.invoke(app, ["report", *map(str, runs), "--html", str(page)])
    assert result.exit_code == 0, result.output
    return page


class Links(HTMLParser):
    """Every src and href of a page, and its script elements' attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]
        if tag == "script":
            self.scripts.append(dict(attrs))


def test_the_page_is_self_contained_and_escapes_what_it_shows(grid_page: Path) -> None:
    text = grid_page.read_text(encoding="ascii")
    parsed = Links()
    parsed.feed(text)
    assert parsed.links, "no image or link found"
    assert all(link.startswith(("data:", "#")) for link in parsed.links), parsed.links
    assert re.search(r"(src|href)\s*=\s*[\"']?\s*https?:", text, re.IGNORECASE) is None
    assert [s for s in parsed.scripts if "src" in s] == []
    assert [s.get("type") for s in parsed.scripts].count(None) == 1  # the page's one script
    assert "<script>alert" not in text and 'example.com/a.png">' not in text
    shown = "&lt;/pre&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert shown in text  # the description, and the factor name in the matches table
    assert "&lt;b&gt;run&amp;1&quot;&#x27;" in text  # the hostile run folder


def test_the_page_holds_every_part(grid_page: Path, runs: list[Path]) -> None:
    text = grid_page.read_text(encoding="ascii")
    headings = ["<h2>Runs</h2>", "<h3>L_I per code, every run</h3>"] + 3 * [
        "<h3>Scores</h3>",
        "<h3>Traversals</h3>",
        "<h3>What each code captures</h3>",
        "<h3>L_I per code</h3>",
        "<h3>Losses</h3>",
        "<h3>Samples over training</h3>",
        "<strong>Recipe</strong>",
    ]
    assert {h: text.count(h) for h in headings} == {h: headings.count(h) for h in headings}
    assert text.count('type="range"') == 3 * (2 + 1)  # 2 codes and the samples, per run
    assert '<td class="num" data-sort="0.3">0.300</td>' in text and "<th>method.lr_g</th>" in text
    assert '<td class="num" data-sort="2.0">2</td>' in text  # a seed
    assert '<td class="num" data-sort="0.0005">0.0005</td>' in text  # a learning rate, as given
    assert "x → scale (NMI 0.40)" not in text  # non-ASCII is written as character references
    assert "x &#8594; scale (NMI 0.40)" in text and "shape &#8594; no factor" in text
    assert text.count("data:image/png;base64,") > 3 * (3 + 21)


def test_the_page_is_written_alone_and_named(runs: list[Path], tmp_path: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in runs[1].rglob("*")}
    page = tmp_path / "one.html"
    result = runner.invoke(app, ["report", str(runs[1]), "--html", str(page)])
    assert result.exit_code == 0, result.output
    assert "".join(result.output.split()) == f"wrote{page}"
    assert sorted(tmp_path.iterdir()) == [page]  # no Markdown page beside it
    assert {p: p.stat().st_mtime_ns for p in runs[1].rglob("*")} == before
    assert "<h2>Runs</h2>" not in page.read_text()  # one run: no table of runs


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("missing/page.html", "there is no folder"),
        ("page.md", "must end in .html"),
        ("folder.html", "a folder"),
    ],
)
def test_a_page_that_cannot_be_written_is_named(
    runs: list[Path], tmp_path: Path, target: str, says: str
) -> None:
    (tmp_path / "folder.html").mkdir()
    result = runner.invoke(app, ["report", str(runs[1]), "--html", str(tmp_path / target)])
    flat = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert says in flat and target.split("/")[0] in flat
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.html"]


def test_a_folder_that_is_not_a_run_is_named(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = runner.invoke(
        app, ["report", str(tmp_path / "empty"), "--html", str(tmp_path / "p.html")]
    )
    flat = "".join(result.output.replace("│", "").split())
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "empty:notarunfolder" in flat
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_a_run_ends_by_writing_its_page(tiny_toml: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    result = runner.invoke(app, ["run", str(tiny_toml), "--out", str(folder), "--quiet"])
    assert result.exit_code == 0, result.output
    page = folder / "report.html"
    assert f"report page: {page}" in " ".join(result.output.split())
    text = page.read_text()
    assert text.count('type="range"') == 3  # the two codes, the samples
    assert f"Not evaluated: <code>disentangle eval {folder} --chance</code>" in text
    assert "report.html" in json.loads((folder / "manifest.json").read_text())["files"]


# --- in a real browser ------------------------------------------------------------------------

#: a closed machine refuses Chromium's background connections: switch them off
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1100,900",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by selenium, with its console log readable."""
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("no chromium and chromedriver (Debian: apt-get install chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="disentangle-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(service=webdriver.ChromeService(driver), options=options)
    session.set_page_load_timeout(60)
    yield session
    session.quit()
    shutil.rmtree(profile, ignore_errors=True)


def opened(browser: Any, page: Path) -> list[dict[str, Any]]:
    """Load the page; the console's errors while it loaded."""
    browser.get(page.resolve().as_uri())
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_the_page_loads_without_errors_and_a_slider_scrubs(browser: Any, grid_page: Path) -> None:
    assert opened(browser, grid_page) == []
    slider = browser.find_element("css selector", "input[data-image='run2-code1-image']")
    image = browser.find_element("id", "run2-code1-image")
    label = browser.find_element("id", "run2-code1-label")
    before, shown = image.get_attribute("src"), label.text
    assert before.startswith("data:image/png;base64,") and shown == "x = +0.00"
    browser.execute_script(
        "arguments[0].value = arguments[0].max;arguments[0].dispatchEvent(new Event('input'));",
        slider,
    )
    assert image.get_attribute("src") != before
    assert label.text == "x = +1.00"
    assert browser.get_log("browser") == []


def test_a_screenshot_of_the_page_is_not_blank(browser: Any, grid_page: Path) -> None:
    from PIL import Image

    assert opened(browser, grid_page) == []
    shot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    colours = shot.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 1


def test_clicking_a_header_sorts_the_runs(browser: Any, grid_page: Path, runs: list[Path]) -> None:
    assert opened(browser, grid_page) == []

    def order() -> list[str]:
        cells = browser.find_elements("css selector", "table.sortable tbody tr td:first-child")
        return [Path(cell.text).name for cell in cells]

    names = [p.name for p in runs]
    assert order() == names
    header = browser.find_element("xpath", "//table[@class='sortable']//th[.='mig.mig']")
    header.click()
    by_mig = [names[i] for i in sorted(range(3), key=lambda i: RUNS[i][2])]
    assert order() == by_mig
    header.click()
    assert order() == by_mig[::-1]
    browser.find_element("xpath", "//table[@class='sortable']//th[.='method.lr_g']").click()
    assert order()[0] == names[1]  # 5e-4 sorts before 1e-3 as a number
