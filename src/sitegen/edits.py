"""The build after edits to articles, new files and removed ones: only the pages they reach, rendered and patched in.

An edit that leaves where an article is filed alone (its dates, section, tags, authors, language
and draft state) leaves every listing's order and every page's choice of articles as they were.
So the pages to render again are known from the cache, without planning the site: those that
showed the article's body, when only its text changed; those that name it, when what they show
of it (headline, standfirst, image, slug) changed. A new slug moves the article's page and its
sitemap entry. An edit that files an article anew (section, tags, authors, language, `updated`,
publication time, draft state), a new file and a removed one are planned by refile.py from where
the cache says every article is filed. Whatever refile.py cannot place is the full build's.
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from sitegen.cache import Cache, CachedBodies, Fingerprinter, KnownFiles, PageReader, card_key, fingerprint
from sitegen.config import Config
from sitegen.crosslinks import Reachable, check_links, left_out, site_path, theme_ids
from sitegen.errors import BuildError, SitegenError
from sitegen.load import FileRecord, LoadSettings, file_record, load_or_error, source_digest
from sitegen.model import Article, Body, Selection
from sitegen.parallel import RENDER_CHUNK, RenderSettings, chunked_iter, default_workers, may_share, sharing
from sitegen.plan import Page, redirect_pages, redirects_file, sitemap_pages
from sitegen.published import UrlRecord, identity
from sitegen.redirects import REDIRECTS_FILE
from sitegen.refile import refiled_pages, sitemap_files_listing, stored_sitemap
from sitegen.render import make_environment, render_noting_bodies, template_hashes
from sitegen.sitemaps import changed_chunks, changed_in
from sitegen.urls import Links, output_path
from sitegen.write import Staging

# Pages at which a build after edits renders in forked workers rather than one at a time (a render
# chunk for each of two): below this, starting them costs about what they save.
PARALLEL_PAGES = 2 * RENDER_CHUNK
# Pages whose context holds all they show, in plain values, not articles: their fingerprint changes
# whenever they do, so they are rendered only then.
WHOLE_IN_CONTEXT = frozenset({"sitemap:urlset", "redirect", "redirects"})


@dataclass(frozen=True)
class Patched:
    """What an edit build did: pages rendered and removed, and how many articles it read again."""

    rendered: list[str]
    removed: list[str]
    read: int
    # Pages the site gained (negative: lost), when the sitemap was split differently.
    added: int
    # Articles the site gained (negative: lost), and articles it leaves out (drafts, embargoed) gained.
    articles: int = 0
    skipped: int = 0
    # Whether an article's publication time, or whether it is published, changed; and so when the site
    # next changes by itself (a timestamp).
    retimed: bool = False
    valid_until: float | None = None
    # What a person should hear of it: stories that moved or were taken down.
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Unreadable:
    """Edited or new files that do not load: where an edit build stops, before it changes anything."""

    errors: tuple[SitegenError, ...]


def same_filing(before: Article, after: Article) -> bool:
    """Whether `after` sits in every listing where `before` did, in the same place; only what pages show differs.

    A new slug counts as the same place here; the caller checks it breaks no tie.
    """
    return replace(after, headline=before.headline, standfirst=before.standfirst, figures=before.figures,
                   source=before.source, corrections=before.corrections, slug=before.slug,
                   digest=before.digest, links=before.links, anchors=before.anchors) == before


@dataclass(frozen=True)
class _Edit:
    """An article as the last build had it and as it is now, with each one's card key."""

    before: Article
    before_card: str
    after: Article
    after_card: str
    body: Body

    @property
    def restated(self) -> bool:
        """Listings show something new of it, not only its text."""
        return self.after_card != self.before_card


def patch_edits(config: Config, settings: LoadSettings, scanned: dict[str, str], cache: Cache, output: Path,
                template_dirs: list[Path], limit: int, selection: Selection, urls: UrlRecord,
                unreadable: Mapping[str, str] | None = None, since: datetime | None = None,
                folders: AbstractSet[str] | None = None,
                on_stored: Callable[[Mapping[str, str | None]], None] | None = None) -> Patched | Unreadable | None:
    """Render and patch in the pages that edited articles reach; None when the full build must decide,
    and `Unreadable` (having changed nothing) when an edited or new file does not load.

    The full build decides when a new file, a removed one or an edit changes the site in a way
    `refile.refiled_pages` leaves to it, an edit gives an article a slug another article has or
    needs to break a tie, more than `limit` articles or pages would be read or rendered here, one
    at a time, which the full build does in parallel, or one of the `unreadable` files changes or
    goes: those the last build could not load (with their status then), which are not in the site
    and are passed over while they stay as they were.

    `since`: the moment the last build's output is of, when time has passed since it and its site
    changed by itself: the stories held back for their time until now come in as edits publishing
    them, and the news sitemap is listed again. `folders`: those whose files the scan found changed
    (see `build.changed_folders`), whose statuses alone are compared; None: every one's. `on_stored`: told,
    once the edited articles are in the cache and before pages are rendered, each file this build will
    log with its article's digest (None: gone), for work that can go on beside the rendering.
    """
    unreadable = unreadable or {}
    if any(scanned.get(name) != status for name, status in unreadable.items()):
        return None
    known = KnownFiles(cache, scanned, folders)
    differing, gone = known.changes()
    used = cache.file_assets()
    removed_files: dict[str, Article] = {}
    for name in gone:
        found = cache.articles([known[name][1]]).get(known[name][1])
        if found is None:
            return None
        removed_files[name] = found[0]
    touched: dict[str, FileRecord] = {}
    edits: dict[str, _Edit] = {}
    new_files: dict[str, tuple[Article, Body]] = {}
    failed: list[SitegenError] = []
    for name in differing:
        if name in unreadable:
            continue
        status = scanned[name]
        path = Path(name)
        key, digest = source_digest(path, settings, used.get(name))
        if name in known and digest == known[name][1]:
            # Touched, not changed: only its status is new.
            touched[name] = (status, digest, used[name][0], used[name][2]) if name in used else (status, digest)
            continue
        if len(edits) + len(new_files) == limit:
            return None
        loaded = load_or_error(path, settings, key)
        if isinstance(loaded, SitegenError):
            failed.append(loaded)
            continue
        touched[name] = file_record(status, loaded[0], key, settings)
        if name not in known:
            new_files[name] = loaded
            continue
        before = cache.articles([known[name][1]]).get(known[name][1])
        if before is None:
            return None
        edits[name] = _Edit(before[0], before[1], loaded[0], card_key(loaded[0]), loaded[1])
    if failed:
        return Unreadable(tuple(failed))
    then = replace(selection, now=since) if since is not None else selection
    lifted = _lifted(cache, then, selection, {*edits, *new_files, *removed_files}) if since is not None else {}
    if lifted is None or len(edits) + len(new_files) + len(lifted) > limit:
        return None
    # Published photos and files are placed by the full build, which knows what every article uses.
    if any(edit.before.media != edit.after.media for edit in edits.values()) or \
            any(article.media for article, _ in (*new_files.values(), *lifted.values())) or \
            any(a.media for a in removed_files.values()):
        return None
    # So are redirects: the record of URLs gains new stories here, and marks those taken down or back.
    links = Links(config)

    def published_at(article: Article, moment: Selection = selection) -> str | None:
        return links.article(article) if moment.keeps_article(article) else None

    if any(edit.before.story_id != edit.after.story_id or edit.before.aliases != edit.after.aliases
           for edit in edits.values()):
        return None
    settled = urls.updated([*((e.after, published_at(e.before, then), published_at(e.after)) for e in edits.values()),
                            *((article, None, published_at(article)) for article, _ in
                              (*new_files.values(), *lifted.values())),
                            *((article, published_at(article), None) for article in removed_files.values())])
    if settled is None:
        return None
    record, notices = settled
    reach = _EditedSite(cache, known, {name: edit.after for name, edit in edits.items()},
                        {name: article for name, (article, _) in (*new_files.items(), *lifted.items())},
                        set(removed_files), selection, links, output, template_dirs)
    if not _links_hold(reach, edits, removed_files, cache, urls.content_dir):
        return None
    if new_files or removed_files or since is not None or \
            not all(same_filing(edit.before, edit.after) for edit in edits.values()):
        return _patch_refiled(config, template_dirs, cache, output, limit, then, selection, edits, new_files,
                              lifted, removed_files, touched, known, record, notices, reach, on_stored)
    moved = _moves(edits, cache, links, urls)
    if moved is None:
        return None
    stored = cache.pages_naming([name for name, edit in edits.items() if edit.restated])
    stored |= cache.pages_showing(edit.before.digest for edit in edits.values() if not edit.restated)
    # Bodies that link to a story that moved show its new URL.
    stored |= cache.pages_linking(_relocated(edits, links))
    if len(stored) > limit or any(data is None for _, data in stored.values()):
        return None
    cache.store_articles((edit.after, edit.body) for edit in edits.values())
    if on_stored is not None:
        on_stored(_logged(touched, {}))
    cards = {edit.after.digest: edit.after_card for edit in edits.values()}
    # An edited file's article is the edit's; every other's is the cache's (a touched file's digest is as it was).
    reader = PageReader(_article_lookup(cache, known, {name: edit.after for name, edit in edits.items()}, cards))
    try:
        pages = {url: reader.load(data) for url, (_, data) in stored.items() if data is not None}
    except (BuildError, pickle.UnpicklingError, AttributeError, ImportError, EOFError):
        return None
    removed = [old for old in moved if old in pages]
    for old in removed:
        pages[moved[old]] = replace(pages.pop(old), url=moved[old])
    previous = {url: print_ for url, (print_, _) in stored.items()}
    added = 0
    if removed and config.base_url:
        maps = _moved_sitemaps(cache, {old: moved[old] for old in removed}, config.base_url)
        if maps is None:
            return None
        sitemaps, gone, previous_maps = maps
        pages.update(sitemaps)
        previous.update(previous_maps)
        removed += gone
        added = len(sitemaps) - len(previous_maps)
    # An old URL of a moved story is a redirect now, not removed.
    redirects = _redirect_pages(record, [edit.after for edit in edits.values()], cache)
    stored_redirects = cache.stored_pages(redirects)
    previous.update((url, print_) for url, (print_, _) in stored_redirects.items())
    # A moved page's URL, counted gone above, stays as its redirect; the host redirect file may be new;
    # a story back at a URL it had takes the place of its redirect there.
    added += sum(url not in stored_redirects for url in redirects) + sum(url in redirects for url in removed) \
        - len(cache.stored_pages(moved.values()))
    pages.update(redirects)
    removed = [url for url in removed if url not in redirects]
    # Pages loaded from the cache show an edited article; a sitemap part or redirect is rendered only if it changed.
    must = {url for url, page in pages.items() if page.template not in WHOLE_IN_CONTEXT}
    rendered = _render(config, template_dirs, cache, output, pages, previous, cards, removed, must, record, reach.targets)
    record.write()
    cache.store_file_digests(touched, replace_all=False)
    cache.forget_articles({edit.before.digest for edit in edits.values()})
    return Patched(rendered, removed, len(edits), added, warnings=notices)


def _patch_refiled(config: Config, template_dirs: list[Path], cache: Cache, output: Path, limit: int,
                   then: Selection, selection: Selection, edits: dict[str, _Edit],
                   new_files: dict[str, tuple[Article, Body]], lifted: dict[str, tuple[Article, str]],
                   removed_files: dict[str, Article], touched: dict[str, FileRecord],
                   known: KnownFiles, record: UrlRecord, notices: list[str],
                   reach: _EditedSite, on_stored: Callable[[Mapping[str, str | None]], None] | None) -> Patched | None:
    """Render and patch in what edits that refile articles, new files and removed ones reach, planned by
    `refile.refiled_pages`; `record` holds the record of published URLs with this build's changes."""
    cards: dict[str, str] = {}
    new = {name: (article, card_key(article)) for name, (article, _) in new_files.items()}
    refiled = refiled_pages(config, known.digests(),
                            {**{name: (article, article, card) for name, (article, card) in lifted.items()},
                             **{name: (e.before, e.after, e.after_card) for name, e in edits.items()}},
                            cache, selection, cards, new, removed_files, then)
    if refiled is None or len(refiled.pages) > limit:
        return None
    gone = set(refiled.removed)
    # A page these edits take away (a tag emptied, say) that a story links to: the full build reports it.
    if gone and _linked_pages(reach, cache, gone):
        return None
    # Every page that named an edited or removed article, or showed its body, is planned again or goes;
    # or this missed a way an edit reaches a page, and the full build must decide.
    befores = [*(edit.before for edit in edits.values()), *removed_files.values()]
    showing = set(cache.pages_showing(before.digest for before in befores))
    if not set(cache.pages_naming([*edits, *removed_files])) | showing <= refiled.pages.keys() | gone:
        return None
    # Pages showing a body that links to a story that moved: as they were, with its new URL.
    relinked = {url: data for url, (_, data) in cache.pages_linking(_relocated(edits, Links(config))).items()
                if url not in refiled.pages and url not in gone}
    if any(data is None for data in relinked.values()):
        return None
    reader = PageReader(_article_lookup(cache, known, {name: edit.after for name, edit in edits.items()}, cards))
    try:
        relinked_pages = {url: reader.load(data) for url, data in relinked.items() if data is not None}
    except (BuildError, pickle.UnpicklingError, AttributeError, ImportError, EOFError):
        return None
    redirects = _redirect_pages(record, [edit.after for edit in edits.values()], cache)
    pages = {**relinked_pages, **refiled.pages, **redirects}
    gone -= redirects.keys()
    previous = {url: print_ for url, (print_, _) in cache.stored_pages(pages).items()}
    cache.store_articles([*((edit.after, edit.body) for edit in edits.values()), *new_files.values()])
    if on_stored is not None:
        on_stored(_logged(touched, removed_files))
    cards.update((edit.after.digest, edit.after_card) for edit in edits.values())
    cards.update((article.digest, card) for article, card in (*new.values(), *lifted.values()))
    removed = sorted(gone)
    rendered = _render(config, template_dirs, cache, output, pages, previous, cards, removed,
                       showing | relinked.keys(), record, reach.targets)
    record.write()
    cache.store_file_digests(touched, replace_all=False)
    cache.forget_files(removed_files)
    cache.forget_articles({before.digest for before in befores})
    return Patched(rendered, removed, len(edits) + len(new_files),
                   len(pages.keys() - previous.keys()) - len(removed), articles=refiled.articles,
                   skipped=refiled.skipped, retimed=refiled.retimed, valid_until=refiled.valid_until, warnings=notices)


def _logged(touched: Mapping[str, FileRecord], removed: Iterable[str]) -> dict[str, str | None]:
    """The files a patch logs (`Cache.store_file_digests`, `Cache.forget_files`), each with its article's digest."""
    return {**{name: record[1] for name, record in touched.items()}, **dict.fromkeys(removed)}


def _lifted(cache: Cache, then: Selection, selection: Selection, passed: set[str],
            ) -> dict[str, tuple[Article, str]] | None:
    """The stories `then` held back for their time and `selection` publishes, but those `passed` (edited, new or
    removed files), by path: article and card key, from the cache; None when one is not there."""
    # Only a story dated between the two moments can be one: those dated from the first on are read.
    dated = cache.published_from(then.now.timestamp(), selection.now.timestamp())
    if dated is None:
        return None
    rows = [(path, digest) for path, digest, _, published, draft in dated
            if path not in passed and selection.keeps(draft, published) and not then.keeps(draft, published)]
    found = cache.articles(digest for _, digest in rows)
    if any(digest not in found for _, digest in rows):
        return None
    return {path: found[digest] for path, digest in rows}


class _EditedSite:
    """The site as these edits leave it, as far as body links need to know: stories by source file, pages by URL."""

    def __init__(self, cache: Cache, known: Mapping[str, tuple[str, str]], edited: dict[str, Article],
                 new: dict[str, Article], removed: set[str], selection: Selection, links: Links, output: Path,
                 template_dirs: list[Path]) -> None:
        self.cache, self.known, self.edited, self.new, self.removed = cache, known, edited, new, removed
        self.selection, self.links, self.output, self.template_dirs = selection, links, output, template_dirs
        self.targets = _Targets(self)

    def article(self, path: str) -> Article | None:
        found = self.edited.get(path) or self.new.get(path)
        if found is not None or path in self.removed or path not in self.known:
            return found
        digest = self.known[path][1]
        cached = self.cache.articles([digest]).get(digest)
        return cached[0] if cached else None

    def page(self, path: str) -> bool:
        """Whether the site has a page or file at `path`: one of the edited stories, or one the last build wrote."""
        if any(self.links.article(a) == path for a in (*self.edited.values(), *self.new.values())
               if self.selection.keeps_article(a)):
            return True
        return bool(self.cache.has_pages([path])) or (self.output / output_path(path)).is_file()

    def reach(self) -> Reachable:
        # Only whether a link holds matters here, not hints: a broken one is the full build's to report.
        return Reachable(self.article, lambda article: left_out(article, self.selection), self.links.article,
                         self.page, lambda path: None, theme_ids(self.template_dirs), lambda path: [], lambda path: [])


class _Targets(Mapping[str, str]):
    """Where the stories bodies link to are after the edits, looked up as pages need them (see `Links.targets`)."""

    def __init__(self, site: _EditedSite) -> None:
        self.site = site
        self.known: dict[str, str] = {}

    def __getitem__(self, path: str) -> str:
        if path not in self.known:
            article = self.site.article(path)
            if article is None or left_out(article, self.site.selection):
                raise KeyError(path)
            self.known[path] = self.site.links.article(article)
        return self.known[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self.known)

    def __len__(self) -> int:
        return len(self.known)


def _links_hold(site: _EditedSite, edits: dict[str, _Edit], removed: dict[str, Article], cache: Cache,
                content_dir: Path) -> bool:
    """Whether every body link the edits could break still names a story, page and id of the site.

    Those are the edited and new stories' own links, and links to a story taken away, left out (a
    draft now) or whose ids changed. When one is broken the full build reports it.
    """
    reach: Reachable | None = None
    for article in (*site.edited.values(), *site.new.values()):
        if not article.links or not site.selection.keeps_article(article):
            continue
        # The page a path names, and so its ids, is known to the full build alone.
        if any(not link.source and link.fragment for link in article.links):
            return False
        reach = reach or site.reach()
        if check_links(article, reach, content_dir):
            return False
    changed = {*removed, *(name for name, edit in edits.items() if edit.before.anchors != edit.after.anchors
                          or not site.selection.keeps_article(edit.after))}
    if not changed:
        return True
    for path in sorted(cache.linkers(changed) - changed):
        linker = site.article(path)
        if linker is None or not site.selection.keeps_article(linker) or \
                not any(link.source and link.target in changed for link in linker.links):
            continue
        if any(link.source and link.target in removed for link in linker.links):
            return False
        reach = reach or site.reach()
        if check_links(linker, reach, content_dir):
            return False
    return True


def _linked_pages(site: _EditedSite, cache: Cache, pages: set[str]) -> bool:
    """Whether a published story links, by a site-rooted path, to one of these pages."""
    for path in sorted(cache.linkers(pages)):
        linker = site.article(path)
        if linker is not None and site.selection.keeps_article(linker) and any(
                not link.source and site_path(link, site.links.article(linker)) in pages for link in linker.links):
            return True
    # An edited or new story may link to one too.
    return any(not link.source and site_path(link, site.links.article(article)) in pages
               for article in (*site.edited.values(), *site.new.values()) if site.selection.keeps_article(article)
               for link in article.links)


def _relocated(edits: dict[str, _Edit], links: Links) -> list[str]:
    """The edited stories whose URL changed."""
    return [name for name, edit in edits.items() if links.article(edit.before) != links.article(edit.after)]


def _redirect_pages(record: UrlRecord, edited: list[Article], cache: Cache) -> dict[str, Page]:
    """The redirect pages of edited articles (their text shows the headline), and the host redirect file
    when this build's changes to the record change its redirects: as the full build plans them from the record."""
    found = {page.url: page for article in edited for page in redirect_pages(record.redirects_of(article))}
    # Most edits leave the record as it was, and so its redirects: comparing is cheaper than listing them.
    # The cache is asked first: whether the record has redirects is a search of all of it (20 ms at
    # 100,000 articles), needed only when the last build wrote no redirect file.
    changed = record.changed() and record.redirects_changed()
    if changed or (not cache.has_pages([REDIRECTS_FILE]) and record.has_redirects()):
        found.update((page.url, page) for page in redirects_file(record.redirect_pairs()))
    return found


def _moves(edits: dict[str, _Edit], cache: Cache, links: Links, urls: UrlRecord) -> dict[str, str] | None:
    """Old URL -> new URL of every edited article whose slug moved it; None when a new slug is not free.

    A slug also orders undated articles, and dated ones published at the same moment, so those
    edits are left to the full build. A URL the article had before (a headline changed back) is
    free: the page there is its own redirect, which its page replaces.
    """
    moved: dict[str, str] = {}
    slugs = [edit.after.slug for edit in edits.values()]
    if len(set(slugs)) < len(slugs):
        return None
    for name, edit in edits.items():
        if edit.after.slug == edit.before.slug:
            continue
        if edit.after.published is None or cache.shares_slug_or_time(name, edit.after.slug, edit.after.published):
            return None
        old, new = links.article(edit.before), links.article(edit.after)
        if old != new:
            if cache.stored_pages([new]) and not _redirects_to(urls, new, edit.after):
                return None
            moved[old] = new
    return moved


def _redirects_to(urls: UrlRecord, url: str, article: Article) -> bool:
    """Whether `url` is, by the record, an earlier URL of `article` that now redirects to it."""
    entry = urls.get(url)
    return entry is not None and entry.state == "moved" and entry.article == identity(article, urls.content_dir)


def _article_lookup(cache: Cache, files: Mapping[str, tuple[str, str]], edited: dict[str, Article],
                    cards: dict[str, str]) -> Callable[[str, str], Article]:
    """`article(path, card)` for a PageReader: edited articles as they are now, others as the cache has them.

    Notes each article's card in `cards`, for fingerprints.
    """
    def article(path: str, card: str) -> Article:
        if path in edited:
            return edited[path]
        found = cache.articles([files[path][1]]).get(files[path][1]) if path in files else None
        if found is None or found[1] != card:
            raise BuildError(f"the cached article {path} is stale", path, None, "delete .sitegen-cache/")
        cards[found[0].digest] = card
        return found[0]

    return article


def _moved_sitemaps(cache: Cache, moved: dict[str, str], base_url: str,
                    ) -> tuple[dict[str, Page], list[str], dict[str, str]] | None:
    """The sitemap's files with moved URLs changed; the URLs of files it no longer has; the old fingerprints."""
    try:
        # Most often the files that list a moved URL change, and they alone, and only they are read.
        listing = sitemap_files_listing(cache, moved)
        changed = None if listing is None else changed_in(listing[0], moved, base_url)
        stored = stored_sitemap(cache) if changed is None else None
    except (BuildError, pickle.UnpicklingError, AttributeError, ImportError, EOFError):
        return None
    if listing is not None and changed is not None:
        _, prints, files = listing
    else:
        if stored is None:
            return None
        _, parts, prints, _ = stored
        files = [url for url, _ in parts]
        changed = changed_chunks([entries for _, entries in parts], moved, base_url)
        if changed is None:
            new_pages = sitemap_pages([(moved.get(url, url), lastmod) for _, entries in parts for url, lastmod in entries],
                                      base_url)
            pages = {page.url: page for page in new_pages}
            return pages, sorted(set(prints) - set(pages)), prints
    pages = {files[n]: Page(files[n], "sitemap:urlset", {"entries": entries}) for n, entries in changed.items()}
    return pages, [], {url: prints[url] for url in pages if url in prints}


def _workers_pay(pages: Iterable[Page]) -> bool:
    """Whether forked workers would render these pages sooner, within the memory they may copy."""
    # A redirect page takes a hundredth of a millisecond: a story renamed a hundred times had its
    # hundred sent to workers, whose forking took longer than rendering them here.
    heavy = sum(page.template != "redirect" for page in pages)
    return heavy >= PARALLEL_PAGES and default_workers() > 1 and may_share()


def _render(config: Config, template_dirs: list[Path], cache: Cache, output: Path, pages: dict[str, Page],
            previous: dict[str, str], cards: dict[str, str], removed: list[str], must: set[str],
            urls: UrlRecord, targets: _Targets) -> list[str]:
    """Render `pages` into the output as a patch and record them in the cache; returns the URLs rendered.

    A page is rendered if its fingerprint changed or it is in `must`: one that showed an edited
    body has the fingerprint it had. Many pages are rendered by workers forked once they are planned.
    """
    first = urls.first_urls()
    env = make_environment(config, template_dirs, CachedBodies(cache.path), compiled=cache.templates,
                           first_urls=first, content_dir=urls.content_dir, targets=targets)
    templates = template_hashes(pages.values(), config, env)

    def fingerprinted() -> Iterator[tuple[str, str, bytes, tuple[str, ...]]]:
        """Each page to render: its URL, fingerprint, pickled form and the articles it names."""
        pickler = Fingerprinter(cards, targets)
        for url in sorted(pages):
            page = pages[url]
            data = pickler.dumps(page)
            print_ = fingerprint(templates[page.template], data)
            if url in must or previous.get(url) != print_:
                yield url, print_, data, tuple(sorted(pickler.named))

    # Taken before any worker starts, so that every linked story's URL is looked up by now (few pages).
    todo = list(fingerprinted())

    def changed() -> Iterator[tuple[str, str, bytes, tuple[str, ...]]]:
        return iter(todo)

    staging = Staging(output)
    cache.discard_staged_pages()
    rendered = []
    try:
        if not _workers_pay(pages[url] for url, _, _, _ in todo):
            for url, print_, data, named in changed():
                text, used = render_noting_bodies(env, pages[url])
                staging.write(url, text)
                cache.stage_page(url, print_, data, used, named)
                rendered.append(url)
        else:
            settings = RenderSettings(config, tuple(template_dirs), templates, staging.path, fresh=True,
                                      cache=cache.path, run=uuid.uuid4().hex, compiled=cache.templates,
                                      first_urls=tuple(sorted(first.items())), content_dir=urls.content_dir,
                                      targets=tuple(sorted(targets.known.items())))
            # What each page sent out was pickled as, until it comes back rendered.
            sent: dict[str, tuple[bytes, tuple[str, ...]]] = {}

            def chunks() -> Iterator[list[tuple[str, str]]]:
                for chunk in chunked_iter(changed(), RENDER_CHUNK):
                    sent.update((url, (data, named)) for url, _, data, named in chunk)
                    yield [(url, print_) for url, print_, _, _ in chunk]

            with sharing(pages) as workers:
                for result in workers.render_shared(chunks(), settings):
                    data, named = sent.pop(result.url)
                    cache.stage_page(result.url, result.fingerprint, data, result.bodies, named)
                    rendered.append(result.url)
        staging.commit_patch(removed)
    except BaseException:
        staging.discard()
        cache.discard_staged_pages()
        raise
    cache.commit_staged_pages(output, removed)
    return rendered
