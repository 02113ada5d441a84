"""The plan: every page of a site, each with what it shows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sitegen.config import Config
from sitegen.model import Article, Term, build_site
from sitegen.plan import plan_site, related_articles

NOW = datetime(2024, 11, 25, tzinfo=timezone.utc)


def _site(count: int) -> list[Article]:
    world = Term("World", "world")
    return [Article(source_path=Path(f"seeds/{n:03d}.md"), slug=f"story-{n:03d}", headline=f"Story {n}", standfirst="",
                    published=NOW - timedelta(hours=n), section=world, digest=f"d{n}") for n in range(count)]


def test_listings_are_paginated_with_links_to_their_neighbours() -> None:
    site = build_site(_site(45), timezone.utc)
    pages = {page.url: page for page in plan_site(site, Config(page_size=20), NOW)}
    # 45 stories, 20 to a page: the section has three pages.
    assert [url for url in pages if url.startswith("/world/page/")] == ["/world/page/2/", "/world/page/3/"]
    first, middle, last = (pages[url].context["pagination"] for url in ("/world/", "/world/page/2/", "/world/page/3/"))
    assert (first.previous, first.next) == (None, "/world/page/2/")
    assert (middle.previous, middle.next) == ("/world/", "/world/page/3/")
    assert (last.previous, last.next, last.number, last.total) == ("/world/page/2/", None, 3, 3)
    assert last.urls == ("/world/", "/world/page/2/", "/world/page/3/")
    assert [a.headline for a in pages["/world/page/3/"].context["articles"]] == [f"Story {n}" for n in range(40, 45)]
    # The front page's lead story sits above its list, so 44 stories follow it on three pages.
    assert pages["/"].context["lead"].headline == "Story 0"
    assert pages["/page/3/"].context["pagination"].total == 3


def test_an_empty_site_still_has_a_front_page() -> None:
    pages = {page.url: page for page in plan_site(build_site([], timezone.utc), Config(), NOW)}
    pagination = pages["/"].context["pagination"]
    assert (pagination.total, pagination.previous, pagination.next) == (1, None, None)
    assert pages["/"].context["lead"] is None


def test_a_tag_and_a_section_of_one_name_are_two_lists_for_related_stories() -> None:
    world, sport = Term("World", "world"), Term("Sport", "sport")
    a, b, c = (Article(source_path=Path(f"seeds/{name}.md"), slug=name, headline=name, standfirst="",
                       published=NOW - timedelta(hours=hours), section=section, tags=tags, digest=name)
               for name, hours, section, tags in (("a", 1, world, (world,)), ("b", 2, world, ()), ("c", 3, sport, (world,))))
    site = build_site([a, b, c], timezone.utc)
    # c shares the tag (twice the weight), b only the section.
    assert [x.slug for x in related_articles(site, 3)[0]] == ["c", "b"]
