"""The lab report opened in a real browser (Debian's Chromium, headless, driven by Playwright).

The page must render, every image must load and the console must stay free of errors. A
full-page screenshot is kept beside the report and copied to the temp folder; its path is
printed (`pytest -s` shows it).
"""

import shutil
import tempfile
from pathlib import Path

from browser_helpers import browser_context
from lab_helpers import quick_run


def test_report_renders_with_every_image_and_no_console_error(tmp_path_factory, chromium):
    run = quick_run(tmp_path_factory)
    assert run.exit_code == 0, run.output
    problems: list[str] = []
    screenshot = run.out / "screenshot.png"
    with browser_context(chromium) as browser:
        page = browser.new_page()
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("requestfailed", lambda r: problems.append(f"failed to load {r.url}"))
        page.goto(run.report.as_uri(), wait_until="load")
        images = page.evaluate(
            "Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete,"
            " width: i.naturalWidth, height: i.naturalHeight}))"
        )
        title = page.title()
        headings = page.locator("section h2").all_inner_texts()
        height = page.evaluate("document.body.scrollHeight")
        page.screenshot(path=str(screenshot), full_page=True)

    assert title.startswith("Activation maximization lab")
    assert len(headings) >= 11 and headings[0].startswith("Part 1")
    assert len(images) == len(run.metrics["files"]["figures"])
    broken = [i["alt"] for i in images if not i["complete"] or i["width"] == 0]
    assert not broken, f"images that did not load: {broken}"
    assert not problems, problems
    assert height > 5000  # every section laid out, not an empty or collapsed page
    kept = Path(tempfile.gettempdir()) / "actmax-lab-report.png"
    shutil.copyfile(screenshot, kept)
    assert kept.stat().st_size > 50_000
    print(f"\nscreenshot of the lab report: {kept} (and {screenshot})")
