"""Every page works from a 360 px phone to a desktop: the page never scrolls sideways, the
menu sits in one row on a desktop and behind a menu button on a phone; and every page says
where you are in its title, with our favicon."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.main_pages import ROLES, an_agency, walk

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIDEWAYS = "[document.documentElement.scrollWidth, window.innerWidth]"
# The menu's links and the header's own rows, in pixels from the top of the page.
ROWS = """() => {
  const header = document.querySelector("header.topbar");
  const links = [...document.querySelectorAll('nav[aria-label="Agency"] a')]
    .filter(a => a.getClientRects().length);
  const line = links.length ? links[0].getBoundingClientRect().height : 0;
  return {
    header: header.getBoundingClientRect().height,
    nav: document.querySelector('nav[aria-label="Agency"]').getBoundingClientRect().height,
    line: line,
    // How far the last link reaches past the start of the account menu (> 0: they overlap).
    overlap: links.length ? Math.max(...links.map(a => a.getBoundingClientRect().right))
      - document.querySelector("header.topbar .account").getBoundingClientRect().left : 0,
    linkTops: [...new Set(links.map(a => Math.round(a.getBoundingClientRect().top)))],
    childTops: [...new Set([...header.children].filter(c => c.getClientRects().length)
      .map(c => Math.round(c.getBoundingClientRect().top + c.getBoundingClientRect().height / 2)))],
    // Header texts that wrap onto a second line (the brand, a link, the agency's name).
    wrapped: [...header.querySelectorAll("a, summary, .agency-name")]
      .filter(el => el.getClientRects().length && el.clientHeight)
      .filter(el => {
        const style = getComputedStyle(el);
        const padding = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
        const text = el.clientHeight - padding;
        return text > 1.5 * parseFloat(style.lineHeight);
      })
      .map(el => el.textContent.trim()),
  };
}"""


def test_main_pages_fit_every_width_fold_the_menu_on_a_phone_and_say_where_you_are(page):
    """On every main page of every role: nothing scrolls sideways at 360, 390 and 1280 px;
    at 1280 px the menu is one row beside the account menu, and the title names the page;
    at 390 px the menu folds behind a button that opens and closes it. One agency and one
    sign-in per role for all of it: these checks only read (the menu's Dashboard link
    included)."""
    agency = an_agency()
    titles = {role: {} for role in ROLES}

    def look(role, width, name):
        scroll_width, window_width = page.evaluate(SIDEWAYS)
        if width == 1280:
            the_menu_is_one_row(page, f"{role}, {name}")
            titles[role][name] = page.title()
        if scroll_width > window_width:
            return f"{scroll_width} px wide in a {width} px window"

    def after_width(role, width):
        if width == 390:
            the_menu_folds_behind_a_button(page, agency, role)
        if width == 1280:
            each_page_says_where_you_are(role, titles[role])
            the_favicon_is_ours(page)

    assert (
        walk(page, agency, widths=[360, 390, 1280], height=800, look=look, after_width=after_width)
        == {}
    )


def the_menu_is_one_row(page, name):
    nav = page.get_by_role("navigation", name="Agency")
    expect(nav.get_by_role("link", name="Dashboard")).to_be_visible()
    expect(page.locator("summary", has_text="Menu")).to_be_hidden()
    rows = page.evaluate(ROWS)
    assert len(rows["linkTops"]) == 1, f"{name}: the menu's links sit in {rows}"
    assert rows["nav"] < 1.5 * rows["line"], f"{name}: the menu is taller than a line"
    assert len(rows["childTops"]) == 1, f"{name}: the header wraps: {rows}"
    assert rows["wrapped"] == [], f"{name}: these header texts wrap: {rows['wrapped']}"
    assert rows["overlap"] <= 0, f"{name}: the links run under the account menu: {rows}"


def the_menu_folds_behind_a_button(page, agency, role):
    _name, path = agency.pages[role][-1]
    page.goto(path)
    rows = page.evaluate(ROWS)
    assert len(rows["childTops"]) == 1, f"{role}: the header takes more than one row: {rows}"
    assert rows["wrapped"] == [], f"{role}: these header texts wrap: {rows['wrapped']}"
    assert rows["header"] < 64, role
    nav = page.get_by_role("navigation", name="Agency")
    dashboard = nav.get_by_role("link", name="Dashboard")
    expect(dashboard).to_be_hidden()

    nav.locator("summary", has_text="Menu").click()
    expect(dashboard).to_be_visible()
    scroll_width, window_width = page.evaluate(SIDEWAYS)
    assert scroll_width <= window_width, role  # the open menu fits the phone too
    dashboard.click()
    expect(page).to_have_url(f"/a/{agency.slug}/")
    expect(dashboard).to_be_hidden()  # and it is folded again on the next page


def each_page_says_where_you_are(role, titles):
    for name, title in titles.items():
        match = re.fullmatch(r"(.+) · Harbor Assist · VA Agency", title)
        assert match, f"{role}, {name}: {title!r} is not “page · agency · product”"
        assert match[1].strip() not in {"", "VA Agency", "Harbor Assist"}, f"{name}: {title!r}"
    assert len(set(titles.values())) == len(titles), f"{role}: two pages share a title: {titles}"
    assert re.match(r"Task #\d+: ", titles["task page"]), titles["task page"]


def the_favicon_is_ours(page):
    icons = page.locator('link[rel="icon"]')
    hrefs = [icons.nth(i).get_attribute("href") for i in range(icons.count())]
    assert "/favicon.ico" in hrefs and any(href.endswith(".svg") for href in hrefs), hrefs
    for href in hrefs:
        answer = page.request.get(href)
        assert answer.status == 200, f"{href} answered {answer.status}"
        assert answer.headers["content-type"].startswith("image/"), answer.headers
    assert page.request.get("/favicon.ico").headers["content-type"] == "image/x-icon"
