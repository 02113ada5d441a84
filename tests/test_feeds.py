"""Feed documents written from per-article entries: the same bytes as writing each feed whole."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import feedparser
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from sitegen.bodies import BodyLookup
from sitegen.config import Config, FeedConfig
from sitegen.feeds import Feed, FeedEntries, _content, _json_item, atom, json_feed, rss
from sitegen.model import Article, Body, Term
from sitegen.urls import Links

CONFIG = Config(title="Daily", base_url="https://example.org/", feeds=FeedConfig(content="full"))
WHEN = datetime(2024, 5, 1, 8, 30, tzinfo=timezone.utc)


def story(number: int, headline: str = "Headline", standfirst: str = "") -> Article:
    return Article(source_path=Path(f"s{number}.md"), slug=f"s{number}", headline=headline, standfirst=standfirst,
                   published=WHEN, authors=(Term("Lan Phạm", "lan-pham"),), tags=(Term("Đà Nẵng", "da-nang"),),
                   digest=f"digest-{number}")


def entries_for(bodies: dict[str, Body], config: Config = CONFIG) -> FeedEntries:
    return FeedEntries(config, Links(config), BodyLookup(bodies))


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(headline=texts, standfirst=texts, body=texts, count=st.integers(0, 3))
def test_json_feed_is_laid_out_as_json_dumps_would(headline: str, standfirst: str, body: str, count: int) -> None:
    articles = tuple(story(n, headline or "h", standfirst) for n in range(count))
    bodies = {a.digest: Body(Markup(body), 1) for a in articles}
    feed = Feed(title=headline or "t", description=standfirst, page="/", prefix="/", entries=articles)
    written = json_feed(feed, CONFIG, entries_for(bodies))
    lookup = BodyLookup(bodies)
    document: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1", "title": feed.title,
        "home_page_url": "https://example.org/", "feed_url": "https://example.org/feed.json", "language": "en",
    }
    if standfirst:
        document["description"] = standfirst
    document["items"] = [_json_item(a, _content(a, CONFIG, lookup), CONFIG, Links(CONFIG)) for a in articles]
    assert written == json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    assert len(json.loads(written)["items"]) == count


def test_an_entry_written_once_serves_every_feed_and_still_counts_as_shown() -> None:
    first, second = story(1, "First <b>&</b>"), story(2, "Second")
    bodies = {first.digest: Body(Markup("<p>One</p>"), 1), second.digest: Body(Markup("<p>Two</p>"), 1)}
    entries = entries_for(bodies)
    site = Feed("Daily", "", "/", "/", (first, second))
    tag = Feed("Daily: Đà Nẵng", "", "/tags/da-nang/", "/tags/da-nang/", (second,))
    atom(site, CONFIG, entries)
    # The tag's feed is written from the remembered entry: the body is not fetched again...
    bodies.clear()
    entries.bodies.start_page()
    document = atom(tag, CONFIG, entries)
    # ...but the page is still recorded as showing it, so editing that body renders this feed again.
    assert entries.bodies.used == {second.digest}
    parsed = feedparser.parse(document)
    assert not parsed.bozo
    assert [e.title for e in parsed.entries] == ["Second"]
    assert parsed.entries[0].content[0].value == "<p>Two</p>"


def test_entries_differ_by_format_and_are_forgotten_beyond_the_limit() -> None:
    articles = [story(n) for n in range(5)]
    bodies = {a.digest: Body(Markup(f"<p>{n}</p>"), 1) for n, a in enumerate(articles)}
    entries = FeedEntries(CONFIG, Links(CONFIG), BodyLookup(bodies), size=3)
    feed = Feed("Daily", "", "/", "/", tuple(articles))
    assert "<entry>" in atom(feed, CONFIG, entries) and "<item>" in rss(feed, CONFIG, entries)
    assert len(entries._written) == 3
    # A forgotten entry is written again, the same as before.
    again = FeedEntries(CONFIG, Links(CONFIG), BodyLookup(bodies))
    assert atom(feed, CONFIG, entries) == atom(feed, CONFIG, again)
