"""The plan: every page of a site, each with what it shows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from sitegen.config import Config
from sitegen.model import Article, Term, build_site
from sitegen.plan import page_count, page_span, pagination, plan_site, related_articles

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
    first, oldest, newest = (pages[url].context["pagination"] for url in ("/world/", "/world/page/2/", "/world/page/3/"))
    # Page 1 holds the newest 20; after it come the highest number, then on down to page 2, the oldest.
    assert (first.previous, first.next) == (None, "/world/page/3/")
    assert (newest.previous, newest.next, newest.number) == ("/world/", "/world/page/2/", 3)
    assert (oldest.previous, oldest.next, oldest.number) == ("/world/page/3/", None, 2)
    headlines = {url: [a.headline for a in pages[url].context["articles"]]
                 for url in ("/world/", "/world/page/2/", "/world/page/3/")}
    assert headlines["/world/"] == [f"Story {n}" for n in range(20)]
    assert headlines["/world/page/3/"] == [f"Story {n}" for n in range(20, 25)]
    assert headlines["/world/page/2/"] == [f"Story {n}" for n in range(25, 45)]
    # The front page's lead story sits above its list, so 44 stories follow it on three pages.
    assert pages["/"].context["lead"].headline == "Story 0"
    assert [a.headline for a in pages["/page/2/"].context["articles"]] == [f"Story {n}" for n in range(25, 45)]


def test_a_new_story_changes_the_first_and_the_highest_numbered_page_alone() -> None:
    def listings(count: int) -> dict[str, tuple[list[str], object]]:
        # Numbered from the oldest: a site of count + 1 stories is this one and a story published after it.
        stories = [replace(a, published=NOW - timedelta(hours=count - n)) for n, a in enumerate(_site(count))]
        pages = plan_site(build_site(stories, timezone.utc), Config(page_size=20), NOW)
        return {page.url: ([a.headline for a in page.context["articles"]], page.context["pagination"])
                for page in pages if page.url.startswith("/world/") and "pagination" in page.context}

    before, after = listings(44), listings(45)
    assert [url for url in after if before.get(url) != after[url]] == ["/world/", "/world/page/3/"]
    assert after["/world/page/3/"][0] == [f"Story {n}" for n in range(24, 19, -1)]
    # The 61st story opens a fourth page; page 3 gains the link to it, page 2 stays as it was.
    more, most = listings(60), listings(61)
    assert [url for url in most if more.get(url) != most[url]] == ["/world/", "/world/page/3/", "/world/page/4/"]


@given(members=st.integers(0, 200), size=st.integers(1, 25), added=st.integers(1, 60))
def test_pages_cover_a_listing_once_and_keep_their_stories_as_stories_are_added(members: int, size: int,
                                                                                added: int) -> None:
    def pages(count: int) -> dict[int, list[int]]:
        # Stories are numbered from the oldest (0), listed newest first.
        listing = list(range(count - 1, -1, -1))
        return {n: listing[slice(*page_span(count, size, n))] for n in range(1, page_count(count, size) + 1)}

    now, later = pages(members), pages(members + added)
    assert sorted(i for shown in now.values() for i in shown) == list(range(members))
    assert len(now[1]) == min(members, size) and all(0 < len(shown) <= size for n, shown in now.items() if n > 1)
    full = [n for n in now if n > 1 and len(now[n]) == size]
    assert all(later[n] == now[n] for n in full)
    walked, here = [], pagination(1, len(now), "/")
    while here.older_number is not None:
        walked.append(here.older_number)
        here = pagination(here.older_number, len(now), "/")
        assert here.newer_number == (walked[-2] if len(walked) > 1 else 1)
    assert walked == sorted(now, reverse=True)[:-1]


def test_an_empty_site_still_has_a_front_page() -> None:
    pages = {page.url: page for page in plan_site(build_site([], timezone.utc), Config(), NOW)}
    pagination = pages["/"].context["pagination"]
    assert (pagination.number, pagination.previous, pagination.next) == (1, None, None)
    assert pages["/"].context["lead"] is None


def test_a_tag_and_a_section_of_one_name_are_two_lists_for_related_stories() -> None:
    world, sport = Term("World", "world"), Term("Sport", "sport")
    a, b, c = (Article(source_path=Path(f"seeds/{name}.md"), slug=name, headline=name, standfirst="",
                       published=NOW - timedelta(hours=hours), section=section, tags=tags, digest=name)
               for name, hours, section, tags in (("a", 1, world, (world,)), ("b", 2, world, ()), ("c", 3, sport, (world,))))
    site = build_site([a, b, c], timezone.utc)
    # c shares the tag (twice the weight), b only the section.
    assert [x.slug for x in related_articles(site, 3)[0]] == ["c", "b"]
