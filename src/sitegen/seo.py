"""Metadata for search engines and social cards: JSON-LD, Open Graph and Twitter tags."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from markupsafe import Markup

from sitegen.config import Config
from sitegen.feeds import alternates
from sitegen.model import Article, Term, Variant
from sitegen.urls import Links, absolute_url, relative_url

Resolve = Callable[[str], str]
Meta = tuple[str, str, str]  # (attribute, key, content): ("property", "og:title", "...")


def jsonld(data: Any) -> Markup:
    """JSON for a <script type="application/ld+json">: '<', '>' and '&' escaped so no text can close it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _organization(config: Config, resolve: Resolve) -> dict[str, Any]:
    organization: dict[str, Any] = {"@type": "Organization", "name": config.publisher_name, "url": resolve("/")}
    if config.publisher.logo:
        logo: dict[str, Any] = {"@type": "ImageObject", "url": resolve(config.publisher.logo)}
        if config.publisher.logo_width and config.publisher.logo_height:
            logo.update(width=config.publisher.logo_width, height=config.publisher.logo_height)
        organization["logo"] = logo
    return organization


def _image_object(variant: Variant, resolve: Resolve) -> dict[str, Any]:
    found: dict[str, Any] = {"@type": "ImageObject", "url": resolve(variant.url)}
    if variant.width and variant.height:
        found.update(width=variant.width, height=variant.height)
    return found


def article_jsonld(article: Article, config: Config, links: Links, resolve: Resolve) -> list[dict[str, Any]]:
    """NewsArticle and BreadcrumbList for an article page."""
    url = resolve(links.article(article))
    news: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.headline,
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "url": url,
        "inLanguage": article.language,
        "publisher": _organization(config, resolve),
    }
    if article.standfirst:
        news["description"] = article.standfirst
    images: list[Any] = [_image_object(f.image.social, resolve) if f.image else resolve(f.src)
                         for f in article.figures if f.src]
    if images:
        news["image"] = images
    if article.published:
        news["datePublished"] = article.published.isoformat()
        news["dateModified"] = (article.modified or article.published).isoformat()
    if article.authors:
        news["author"] = [{"@type": "Person", "name": a.name, "url": resolve(links.author(a))} for a in article.authors]
    else:
        # A story with no byline (wire copy has none) is the publisher's, as Google's guidance allows:
        # NewsArticle without an author is flagged by structured-data checks.
        news["author"] = [_organization(config, resolve)]
    if article.section:
        news["articleSection"] = article.section.name
    if article.tags:
        news["keywords"] = [t.name for t in article.tags]
    crumbs = [("Home", links.home)]
    if article.section:
        crumbs.append((article.section.name, links.section(article.section)))
    crumbs.append((article.headline, links.article(article)))
    breadcrumbs = {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": i, "name": name, "item": resolve(target)}
            for i, (name, target) in enumerate(crumbs, start=1)
        ],
    }
    return [news, breadcrumbs]


def home_jsonld(config: Config, resolve: Resolve) -> list[dict[str, Any]]:
    """WebSite and Organization for the front page."""
    website = {"@context": "https://schema.org", "@type": "WebSite", "name": config.title, "url": resolve("/"),
               "inLanguage": config.language}
    if config.description:
        website["description"] = config.description
    return [website, {"@context": "https://schema.org", **_organization(config, resolve)}]


def _og_locale(language: str) -> str:
    parts = language.replace("-", "_").split("_")
    return parts[0].lower() + ("_" + parts[1].upper() if len(parts) > 1 else "")


def social_meta(config: Config, absolute: str | None, title: str, description: str, language: str,
                article: Article | None = None, resolve: Resolve | None = None) -> tuple[Meta, ...]:
    """Open Graph and Twitter card tags; og:url only when the page has an absolute URL."""
    tags: list[Meta] = [
        ("property", "og:site_name", config.title),
        ("property", "og:type", "article" if article else "website"),
        ("property", "og:title", title),
        ("property", "og:locale", _og_locale(language)),
    ]
    if absolute:
        tags.append(("property", "og:url", absolute))
    if description:
        tags.append(("property", "og:description", description))
    image = article.lead_figure if article else None
    if article:
        if article.published:
            tags.append(("property", "article:published_time", article.published.isoformat()))
            tags.append(("property", "article:modified_time", (article.modified or article.published).isoformat()))
        if article.section:
            tags.append(("property", "article:section", article.section.name))
        tags += [("property", "article:tag", t.name) for t in article.tags]
    if image and image.src and resolve:
        # Social cards and Google Discover want a photo at least 1200 px wide: the published one nearest that.
        social = image.image.social if image.image else None
        tags.append(("property", "og:image", resolve(social.url if social else image.src)))
        width, height = (social.width, social.height) if social else (image.width, image.height)
        if social:
            tags.append(("property", "og:image:type", social.media_type))
        if width and height:
            tags += [("property", "og:image:width", str(width)), ("property", "og:image:height", str(height))]
        if image.alt:
            tags.append(("property", "og:image:alt", image.alt))
    tags.append(("name", "twitter:card", "summary_large_image" if image and image.src else "summary"))
    tags.append(("name", "twitter:title", title))
    if image and image.src and resolve:
        tags.append(("name", "twitter:image", resolve(image.image.social.url if image.image else image.src)))
        if image.alt:
            tags.append(("name", "twitter:image:alt", image.alt))
    if description:
        tags.append(("name", "twitter:description", description))
    return tuple(tags)


METADATA = frozenset({"canonical", "page_feeds", "structured_data", "social"})


def page_metadata(url: str, template: str, context: Mapping[str, Any], language: str, config: Config,
                  links: Links, wanted: frozenset[str] = METADATA) -> dict[str, Any]:
    """What search engines, social cards and feed readers read on a page, derived from its context.

    Only the `wanted` keys are worked out: a theme that shows no JSON-LD does not pay for it.
    """
    article: Article | None = context.get("article")
    absolute = absolute_url(url, config.base_url) if config.base_url else None

    def resolve(target: str) -> str:
        return absolute_url(target, config.base_url) if config.base_url else relative_url(target, url)

    if article:
        title, description = article.headline, article.standfirst
    else:
        title, description = context.get("title") or config.title, config.description
    found: dict[str, Any] = {}
    if "canonical" in wanted:
        found["canonical"] = absolute if template != "404.html" else None
    if "page_feeds" in wanted:
        feeds = list(alternates(config, links.home, None))
        own: Term | None = article.section if article else context.get("term")
        kind = "section" if article else context.get("kind")
        if own is not None and kind in ("section", "tag", "author"):
            feeds += alternates(config, {"section": links.section, "tag": links.tag, "author": links.author}[kind](own),
                                own)
        found["page_feeds"] = tuple(feeds)
    if "structured_data" in wanted:
        if article:
            structured = article_jsonld(article, config, links, resolve)
        else:
            structured = home_jsonld(config, resolve) if url == links.home else []
        found["structured_data"] = jsonld(structured) if structured else None
    if "social" in wanted:
        found["social"] = social_meta(config, absolute, title, description, language, article, resolve)
    return found
