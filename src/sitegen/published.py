"""The record of published URLs: what the site has put out, so a story that moves keeps its old URLs working.

`published-urls.txt` in the site folder is committed with the content, like a lockfile. A line a
URL the site ever published (a site path, so a new base_url changes nothing), with its state and
the article it belonged to:

    /world/corrected-headline/<TAB>live<TAB>world/story.md
    /world/original-headline/<TAB>moved<TAB>world/story.md<TAB>first
    /world/taken-down/<TAB>gone<TAB>world/old.md<TAB>first

An article is named by its `id:` (`id:2024-flood`), else by its file's path under seeds/. `live`
is where it is now; `moved`, a URL it had before, which is redirected to its live one (so chains
collapse: every old URL points at the newest); `alias`, an old URL the article's metadata declares,
redirected likewise; `gone`, a URL of a story taken down (removed, or made a draft), or one another
page holds now, which is not redirected, and which a different story taking it over is warned
about. `first` marks the article's first URL, which stays its feed entries' id. The redirects are
a function of the record alone, so a build after edits can write them as a full build would.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from sitegen.errors import ConfigError
from sitegen.model import Article

RECORD_NAME = "published-urls.txt"
FILE_PATHS = ("/static/", "/media/")
STATES = ("live", "moved", "gone", "alias")
_STATES = frozenset(STATES)
_HEADER = ("# The URLs this site has published, kept by `sitegen build`: commit this file with the content.\n"
           "# It is how a story that moves keeps its old links working. One URL a line, sorted:\n"
           "# path, state (live, moved, gone, alias), the article (id:NAME or its file under seeds/), and 'first'\n"
           "# on the article's first URL, which stays the id of its feed entries.\n")


class Entry(NamedTuple):
    """One URL's line: its state, the article, and whether it is the article's first URL.

    A tuple, not a dataclass: an archive's record holds 100,000 of them, read for every edit.
    """

    state: str
    article: str
    first: bool = False


Record = dict[str, Entry]


def identity(article: Article, content_dir: Path) -> str:
    """How the record names an article: its `id:`, else its file's path under the content folder."""
    if article.story_id:
        return "id:" + article.story_id
    source, folder = str(article.source_path), str(content_dir) + os.sep
    # A file the scan found under the folder, as most are, without relpath's two calls to getcwd
    # (a sixth of a second of planning 10,000 articles).
    if os.sep == "/" and source.startswith(folder) and "/../" not in source and "/./" not in source:
        path = source[len(folder):]
    else:
        try:
            path = Path(os.path.relpath(article.source_path, content_dir)).as_posix()
        except ValueError:  # another drive, on Windows
            path = Path(article.source_path).as_posix()
    # A file name may hold what would break a line of the record: escaped, as in a URL.
    return path.replace("%", "%25").replace("\t", "%09").replace("\n", "%0A").replace("\r", "%0D") \
        if any(c in path for c in "%\t\n\r") else path


# The last record read, by its text: a preview builds again and again with the same record of an
# archive's 10,000 URLs, whose parsing cost each of its builds after a text edit a fifth of its time.
_LAST_READ: dict[str, tuple[str, Record]] = {}


def read_record(path: Path) -> Record:
    """The record in `path`; none when the file is missing. A damaged line is an error at its line."""
    return _parsed(path, _record_text(path))


def _record_text(path: Path) -> str:
    try:
        text = path.read_bytes().decode("utf-8")
        # Newlines as `read_text` gives them, which took three to five times as long at 100,000 articles.
        return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot be read: {error}", path, None, "restore it from version control") from None


def _parsed(path: Path, text: str) -> Record:
    last = _LAST_READ.get(str(path))
    if last is not None and last[0] == text:
        return dict(last[1])
    record = _parse_record(path, text)
    _LAST_READ.clear()
    _LAST_READ[str(path)] = (text, dict(record))
    return record


def _parse_record(path: Path, text: str) -> Record:
    record: Record = {}
    # Lines end at a newline alone: a file name may hold any other line break (U+2028, say), which
    # str.splitlines would break the line at. A \r in a name is escaped, so any \r is a CRLF checkout's.
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n") if "\r" in text else text.split("\n"),
                                  start=1):
        parts = line.split("\t")
        # The common line first, checked as cheaply as it can be: an archive's record has 100,000.
        if len(parts) == 3 or (len(parts) == 4 and parts[3] == "first"):
            url = parts[0]
            if url[:1] == "/" and parts[1] in _STATES and parts[2] and url not in record:
                record[url] = Entry(parts[1], parts[2], len(parts) == 4)
                continue
        if not line.strip() or line.startswith("#"):
            continue
        raise ConfigError(f"line {number} is not 'path<TAB>state<TAB>article[<TAB>first]': {line!r}", path, number,
                          "restore the file from version control; sitegen rewrites it on every build")
    return record


# Articles whose URLs are looked up one by one rather than in a pass over the whole record: a name's
# two searches take a tenth of the pass.
FEW_NAMES = 8


class RecordText:
    """A record a build has read whole before (and so checked), looked up in its text a line at a time.

    A build after an edit needs a few lines of an archive's 100,000, which took a tenth of a second
    to parse; each lookup here is a search of the text. `whole` parses it all, for a story's move.
    """

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text
        # Every line between two newlines, the first and last too, each found by a search for its
        # URL after a newline or its article's name between a tab and a tab or newline.
        self._lines = "\n" + (text.replace("\r\n", "\n") if "\r" in text else text) + "\n"
        self._whole: Record | None = None
        self._in: dict[str, list[tuple[str, Entry]]] = {}
        self._of: dict[str, list[tuple[str, Entry]]] = {}

    @classmethod
    def read(cls, path: Path) -> RecordText:
        return cls(path, _record_text(path))

    def whole(self) -> Record:
        """The record parsed, once: not to be changed."""
        if self._whole is None:
            self._whole = _parsed(self.path, self.text)
        return self._whole

    def get(self, url: str) -> Entry | None:
        found = self._line_at(self._lines.find("\n" + url + "\t") + 1)
        return found[1] if found is not None and found[0] == url else None

    def of_article(self, name: str) -> list[tuple[str, Entry]]:
        """The record's URLs of the article named `name`, sorted: two searches of the text, made once."""
        if name not in self._of:
            self._of[name] = sorted({line for end in "\t\n" for line in self._at(f"\t{name}{end}")
                                     if line[1].article == name})
        return list(self._of[name])

    def in_state(self, *states: str) -> list[tuple[str, Entry]]:
        """Every URL in one of `states`: few in a record, each found by a search for its state's field."""
        for state in states:
            if state not in self._in:
                self._in[state] = [line for line in self._at(f"\t{state}\t") if line[1].state == state]
        return sorted({line for state in states for line in self._in[state]})

    def spliced(self, changes: Mapping[str, Entry]) -> str | None:
        """The text with `changes` made, as `render_record` would write it: each line replaced, or put in
        its place in URL order. None unless the text is as `render_record` writes it (in a build that
        writes the record it is: the last build wrote it, or found it so)."""
        text = self.text
        if not text.startswith(_HEADER) or "\r" in text:
            return None
        spans = []
        for url, entry in changes.items():
            at = text.find("\n" + url + "\t") + 1
            start, stop = (at, text.find("\n", at) + 1) if at > 0 else (self._place(url),) * 2
            spans.append((start, stop, url, _line(url, entry)))
        parts, done = [], 0
        for start, stop, _, line in sorted(spans):
            parts += [text[done:start], line]
            done = stop
        return "".join([*parts, text[done:]])

    def _place(self, url: str) -> int:
        """Where a line for `url`, which the sorted text does not hold, goes: found by halving."""
        text, low, high = self.text, len(_HEADER), len(self.text)
        while low < high:
            newline = text.rfind("\n", low, (low + high) // 2)
            start = low if newline < 0 else newline + 1
            stop = text.find("\n", start) + 1
            if text[start:text.find("\t", start)] < url:
                low = stop
            else:
                high = start
        return low

    def live_urls(self, names: Collection[str]) -> dict[str, list[str]]:
        """The live URLs of each article named in `names`, sorted: searched for by name when they are few,
        else one pass over the lines, which costs a third of parsing them all (40 ms at 100,000 articles)."""
        found: dict[str, list[str]] = {}
        if len(names) <= FEW_NAMES:
            for name in sorted(names):
                urls = [url for url, entry in self.of_article(name) if entry.state == "live"]
                if urls:
                    found[name] = urls
            return found
        for line in self._lines.split("\n"):
            url, live, rest = line.partition("\tlive\t")
            # The first field: an article named "live" puts the same text later in its line.
            if live and url[:1] == "/" and "\t" not in url:
                name = rest.split("\t", 1)[0]
                if name in names:
                    found.setdefault(name, []).append(url)
        return {name: sorted(urls) for name, urls in found.items()}

    def _at(self, needle: str) -> Iterator[tuple[str, Entry]]:
        """The line of each place `needle` is found (a checked record holds each URL once)."""
        lines, start = self._lines, self._lines.find(needle)
        while start >= 0:
            found = self._line_at(lines.rfind("\n", 0, start) + 1)
            if found is not None:
                yield found
            start = lines.find(needle, lines.find("\n", start + 1))

    def _line_at(self, start: int) -> tuple[str, Entry] | None:
        if start <= 0:
            return None
        parts = self._lines[start:self._lines.find("\n", start)].split("\t")
        # As `_parse_record` takes a line; any other (a comment, say) holds no URL.
        if (len(parts) == 3 or (len(parts) == 4 and parts[3] == "first")) and parts[0][:1] == "/" \
                and parts[1] in _STATES and parts[2]:
            return parts[0], Entry(parts[1], parts[2], len(parts) == 4)
        return None


def _line(url: str, entry: Entry) -> str:
    return f"{url}\t{entry.state}\t{entry.article}{chr(9) + 'first' if entry.first else ''}\n"


def render_record(record: Mapping[str, Entry]) -> str:
    return _HEADER + "".join([_line(url, entry) for url, entry in sorted(record.items())])


def write_record(path: Path, record: Mapping[str, Entry]) -> bool:
    """Write the record, in one step, if it changed; returns whether it did."""
    # In the order reading it back gives.
    record = dict(sorted(record.items()))
    return _write_text(path, render_record(record), record)


def _write_text(path: Path, text: str, record: Record | None, was: str | None = None) -> bool:
    """Write `text` in one step unless the file holds it (`was`, when the caller read it)."""
    try:
        if (path.read_text(encoding="utf-8") if was is None else was) == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    # The next build of a long-running caller reads what it wrote: parsing it again cost a preview's
    # edit that moves a story 0.28 s at 100,000 articles.
    _LAST_READ.clear()
    if record is not None:
        _LAST_READ[str(path)] = (text, record)
    return True


@dataclass(frozen=True)
class Move:
    """A URL that now leads to another: old site path, new site path, and the article at the new one."""

    old: str
    new: str
    article: Article


@dataclass
class Settled:
    """The record after this build, the redirects it implies, and what a person should hear about."""

    record: Record
    moves: list[Move] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Articles (by their file) whose URLs the record did not yet hold as they are now.
    changed: list[tuple[Article, str]] = field(default_factory=list)


def settle(record: Record, articles: Iterable[Article], page_urls: set[str], url_of: Mapping[str, str],
           content_dir: Path) -> Settled:
    """The record once `articles` (published now, at `url_of[source path]`) are, and the redirects to write.

    `page_urls` are every page the site has: a URL a page holds is never redirected.
    """
    now: dict[str, tuple[str, Article]] = {}
    for article in articles:
        now[identity(article, content_dir)] = (url_of[str(article.source_path)], article)
    settled = Settled({})
    new: Record = {}
    # Asked once per article: looked up in the whole record each time, 10,000 articles took 5.5 s.
    recorded_first = {entry.article for entry in record.values() if entry.first}
    for name, (url, article) in now.items():
        had = record.get(url)
        first = name not in recorded_first
        new[url] = Entry("live", name, first or bool(had and had.article == name and had.first))
        if had is None:
            settled.changed.append((article, f"is published at {url}"))
        elif had.article != name and had.state != "alias":
            settled.warnings.append(f"{article.source_path}: takes over {url}, which was {_held(had)}; the new story "
                                    "wins and the old URL now shows it")
            settled.changed.append((article, f"takes over {url} from {had.article}"))
        elif had.state not in ("live", "alias"):
            settled.changed.append((article, f"is published again at {url}"))
    for url, entry in record.items():
        # Aliases are the articles' to declare, and are made again from them below.
        if url in new or entry.state == "alias":
            continue
        current = now.get(entry.article)
        if current is None:
            new[url] = Entry("gone", entry.article, entry.first)
            if entry.state != "gone":
                settled.warnings.append(f"{entry.article}: taken down; {url} is no longer published and is not "
                                        "redirected")
            continue
        target, article = current
        if url in page_urls:
            # Another page (a section's, a tag's) holds it now: remembered, never redirected.
            new[url] = Entry("gone", entry.article, entry.first)
            if entry.state != "gone":
                settled.warnings.append(f"{article.source_path}: its old URL {url} is now another page, which wins")
            continue
        new[url] = Entry("moved", entry.article, entry.first)
        if entry.state == "live":
            settled.warnings.append(f"{article.source_path}: moved from {url} to {target}; the old URL redirects")
            settled.changed.append((article, f"moved from {url} to {target}"))
    for name, (target, article) in now.items():
        for alias in article.aliases:
            if alias == target:
                continue
            # Static files, published photos and the host's redirect file are files, never redirected.
            if alias in page_urls or alias in new or alias.startswith(FILE_PATHS) or alias == "/_redirects":
                settled.warnings.append(f"{article.source_path}: alias {alias} is already a page or a redirect; "
                                        "it is left as it is")
                continue
            new[alias] = Entry("alias", name)
    settled.record = new
    settled.moves = moves(new, {name: article for name, (_, article) in now.items()})
    return settled


def redirect_pairs(record: Mapping[str, Entry]) -> list[tuple[str, str]]:
    """(old URL, URL now) of every redirect the record holds: moved URLs and aliases of live articles, sorted."""
    # The few redirects first, then their articles' live URLs: an archive's record holds 100,000 lines.
    redirected = {entry.article for entry in record.values() if entry.state in ("moved", "alias")}
    if not redirected:
        return []
    live = {entry.article: url for url, entry in record.items() if entry.state == "live" and entry.article in redirected}
    return sorted((url, live[entry.article]) for url, entry in record.items()
                  if entry.state in ("moved", "alias") and entry.article in live)


def moves(record: Mapping[str, Entry], articles: Mapping[str, Article]) -> list[Move]:
    """Every redirect the record holds, with the article each leads to (`articles` by record name)."""
    return [Move(old, new, articles[record[old].article]) for old, new in redirect_pairs(record)]


def _pairs(own: list[tuple[str, Entry]]) -> list[tuple[str, str]]:
    """(old URL, URL now) of one article's redirects, from its URLs in the record, `own` (sorted)."""
    live = next((url for url, entry in own if entry.state == "live"), None)
    return [] if live is None else [(url, live) for url, entry in own if entry.state in ("moved", "alias")]


def _redirect_moves(own: list[tuple[str, Entry]], article: Article) -> list[Move]:
    """The redirects to `article`, from its URLs in the record, `own` (sorted)."""
    return [Move(old, new, article) for old, new in _pairs(own)]


@dataclass(frozen=True)
class UrlRecord:
    """The record as a build after edits needs it: as the last build left it, with this build's `changes`;
    where articles are named from, and where to write it (None: not)."""

    text: RecordText
    content_dir: Path
    path: Path | None
    changes: Mapping[str, Entry] = field(default_factory=dict)

    def get(self, url: str) -> Entry | None:
        return self.changes[url] if url in self.changes else self.text.get(url)

    def whole(self) -> Record:
        """The record as this build leaves it: not to be changed."""
        return self._changed_whole if self.changes else self.text.whole()

    @cached_property
    def _changed_whole(self) -> Record:
        return {**self.text.whole(), **self.changes}

    def changed(self) -> bool:
        """Whether this build changed the record."""
        return any(self.text.get(url) != entry for url, entry in self.changes.items())

    def first_urls(self) -> dict[str, str]:
        """`first_urls` of the record."""
        return first_urls(self._in_state("moved", "gone", "alias"))

    def redirect_pairs(self) -> list[tuple[str, str]]:
        """`redirect_pairs` of the record as this build leaves it, without parsing it whole: the few
        redirects' lines, then their articles' live URLs."""
        redirected = self._in_state("moved", "alias")
        names = {entry.article for entry in redirected.values()}
        live = {url: name for name, urls in self.text.live_urls(names).items() for url in urls}
        for url, entry in self.changes.items():
            live.pop(url, None)
            if entry.state == "live" and entry.article in names:
                live[url] = entry.article
        first: dict[str, str] = {}
        for url, name in sorted(live.items()):
            first.setdefault(name, url)
        return sorted((url, first[entry.article]) for url, entry in redirected.items() if entry.article in first)

    def has_redirects(self) -> bool:
        return bool(self._in_state("moved", "alias"))

    def redirects_changed(self) -> bool:
        """Whether this build's changes change the redirects the record implies (see `redirect_pairs`)."""
        before = [self.text.get(url) for url in self.changes]
        names = {entry.article for entry in [*before, *self.changes.values()] if entry is not None}
        return any(_pairs(self._own(name, {})) != _pairs(self._own(name, self.changes)) for name in sorted(names))

    def write(self) -> None:
        """Write the record as this build leaves it, if it changed and is to be written."""
        if self.path is None or not self.changed():
            return
        text = self.text.spliced(self.changes)
        if text is None:
            write_record(self.path, self.whole())
        else:
            _write_text(self.path, text, None, self.text.text)

    def _in_state(self, *states: str) -> dict[str, Entry]:
        """Every URL in one of `states` once this build's changes are made, sorted."""
        found = dict(self.text.in_state(*states))
        found.update(self.changes)
        return {url: entry for url, entry in sorted(found.items()) if entry.state in states}

    def redirects_of(self, article: Article) -> list[Move]:
        """The redirects to one article."""
        return _redirect_moves(self._own(identity(article, self.content_dir), self.changes), article)

    def _own(self, name: str, changes: Mapping[str, Entry]) -> list[tuple[str, Entry]]:
        """The URLs of the article named `name` once `changes` are made, sorted."""
        own = dict(self.text.of_article(name))
        own.update((url, entry) for url, entry in changes.items() if url in own or entry.article == name)
        return sorted((url, entry) for url, entry in own.items() if entry.article == name)

    def updated(self, changes: Iterable[tuple[Article, str | None, str | None]]) -> tuple[UrlRecord, list[str]] | None:
        """The record after edits: (article, URL it was published at, URL it is published at now), None for
        not published. None when the full build must decide (a URL another story holds; a story with
        redirects taken down or published again).

        A story published at a URL the record never held is added; one taken down, or published again where
        it was, with no other URL, flips between live and gone; one that moves leaves a redirect. With the
        record, what the build says of it, in the words of `settle`.
        """
        record = dict(self.changes)
        warnings: list[str] = []

        def get(url: str) -> Entry | None:
            return record[url] if url in record else self.text.get(url)

        for article, before, after in changes:
            name = identity(article, self.content_dir)
            if before is not None and after is not None:
                if before != after:
                    # A move: its old URL redirects, as do all it had before (the redirects follow the record).
                    was, held = get(before), get(after)
                    if was is None or was != Entry("live", name, was.first) or (held and held.article != name):
                        return None
                    record[before] = Entry("moved", name, was.first)
                    warnings.append(f"{article.source_path}: moved from {before} to {after}; the old URL redirects")
                    record[after] = Entry("live", name, bool(held and held.first))
                continue
            url = after or before
            if url is None:
                continue
            held = get(url)
            if any(u != url for u, _ in self._own(name, record)) or (held is not None and held.article != name):
                return None
            if after is not None:
                record[url] = Entry("live", name, True)
            elif held is not None:
                record[url] = Entry("gone", name, held.first)
                warnings.append(f"{name}: taken down; {url} is no longer published and is not redirected")
        return UrlRecord(self.text, self.content_dir, self.path, record), warnings


def first_urls(record: Mapping[str, Entry]) -> dict[str, str]:
    """The first URL of every article that is no longer there, by how the record names the article."""
    return {entry.article: url for url, entry in record.items() if entry.first and entry.state != "live"}


def _held(entry: Entry) -> str:
    return {"live": f"{entry.article}'s page", "moved": f"an old URL of {entry.article}",
            "gone": f"the URL of {entry.article}, taken down"}[entry.state]
