"""The atlas site opened from file:// in a real browser (Debian's Chromium, headless, offline).

The index, a layer page and a unit page must load with every image and no console error, and
the search box must lead to a unit's page. Screenshots are kept in the temp folder (`pytest -s`
prints where).
"""

import tempfile
from pathlib import Path

import pytest
from atlas_helpers import cli_atlas
from browser_helpers import browser_context

IMAGES = (
    "Array.from(document.images).map(i => ({src: i.getAttribute('src'), complete: i.complete,"
    " width: i.naturalWidth}))"
)


@pytest.fixture(scope="module")
def browser(chromium):
    with browser_context(chromium) as context:
        yield context


class Visit:
    """One page, with every console error, page error and failed request it caused."""

    def __init__(self, browser, path: Path):
        self.problems: list[str] = []
        self.page = browser.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(m.text))
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        self.page.goto(path.as_uri(), wait_until="load")

    def images(self) -> list[dict]:
        return self.page.evaluate(IMAGES)

    def check(self, shot: str) -> list[dict]:
        """Every image loaded and nothing went wrong; a screenshot is kept."""
        images = self.images()
        broken = [i["src"] for i in images if not i["complete"] or i["width"] == 0]
        assert not broken, f"images that did not load: {broken}"
        assert not self.problems, self.problems
        kept = Path(tempfile.gettempdir()) / f"actmax-atlas-{shot}.png"
        self.page.screenshot(path=str(kept), full_page=True)
        assert kept.stat().st_size > 5_000
        print(f"\nscreenshot: {kept}")
        return images


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    run = cli_atlas(tmp_path_factory)
    assert run.exit_code == 0, run.output
    return run.out


def test_the_index_loads_with_its_layers(browser, site):
    visit = Visit(browser, site / "index.html")
    images = visit.check("index")
    assert visit.page.title().startswith("Atlas of run")
    rows = visit.page.locator("table.layers tr").count()
    assert rows == 1 + 3  # a header and l1, l3, l5
    assert len(images) == 9 + 12 + 10  # every unit of l1 and l5, the first 12 of l3
    options = visit.page.locator("form.search select option").all_inner_texts()
    assert options == ["l1 (9)", "l3 (16)", "l5 (10)"]


def test_a_layer_page_shows_all_its_units(browser, site):
    visit = Visit(browser, site / "layers" / "l3.html")
    images = visit.check("layer")
    assert len(images) == 16
    assert [i["src"] for i in images] == [f"../images/l3/{k}/fv0.png" for k in range(16)]
    assert visit.page.locator(".tile").count() == 16


def test_a_unit_page_shows_its_visualizations_top_9_and_histogram(browser, site):
    visit = Visit(browser, site / "units" / "l3" / "4.html")
    images = visit.check("unit")
    sources = [i["src"].rsplit("/", 1)[-1] for i in images]
    assert sources[:2] == ["fv0.png", "fv1.png"]
    assert sources[2:11] == [f"top{i}.png" for i in range(9)]
    assert sources[11:] == [f"bottom{i}.png" for i in range(9)]
    assert visit.page.locator("#top figure").count() == 9
    assert visit.page.locator("svg.histogram rect").count() == 40
    assert visit.page.locator("h1").inner_text() == "l3 · unit 4"


def test_the_search_box_goes_to_a_unit_and_says_when_there_is_none(browser, site):
    visit = Visit(browser, site / "index.html")
    form = visit.page.locator("form.search")
    form.locator("select").select_option(label="l5 (10)")
    form.locator("input").fill("12")
    form.locator("button").click()
    assert form.locator(".message").inner_text() == "l5 has units 0 to 9"
    form.locator("input").fill("7")
    with visit.page.expect_navigation():
        form.locator("button").click()
    assert visit.page.url.endswith("/units/l5/7.html")
    assert visit.page.locator("h1").inner_text() == "l5 · unit 7"
    # from a unit page, an empty unit goes to the layer's page
    page_form = visit.page.locator("form.search")
    page_form.locator("select").select_option(label="l1 (9)")
    with visit.page.expect_navigation():
        page_form.locator("button").click()
    assert visit.page.url.endswith("/layers/l1.html")
    assert not visit.problems, visit.problems
