"""The theme's own words on article pages, in the article's language where sitegen knows them."""

from __future__ import annotations

from markupsafe import Markup, escape

LABELS: dict[str, dict[str, str]] = {
    "en": {"home": "Home", "by": "By", "and": "and", "updated": "Updated", "minutes": "{n} min read",
           "correction": "Correction", "source": "Source", "tags": "Tags", "related": "Related",
           "moved": "This story has moved to"},
    "vi": {"home": "Trang chủ", "by": "Tác giả:", "and": "và", "updated": "Cập nhật", "minutes": "{n} phút đọc",
           "correction": "Đính chính", "source": "Nguồn", "tags": "Chủ đề", "related": "Tin liên quan",
           "moved": "Bài viết đã được chuyển sang"},
    "ar": {"home": "الرئيسية", "by": "بقلم", "and": "و", "updated": "تحديث", "minutes": "{n} دقيقة للقراءة",
           "correction": "تصحيح", "source": "المصدر", "tags": "الوسوم", "related": "ذو صلة",
           "moved": "نُقل هذا المقال إلى"},
    "fr": {"home": "Accueil", "by": "Par", "and": "et", "updated": "Mis à jour", "minutes": "{n} min de lecture",
           "correction": "Rectificatif", "source": "Source", "tags": "Mots-clés", "related": "À lire aussi",
           "moved": "Cet article a été déplacé :"},
}


def label(key: str, language: str, **values: object) -> Markup:
    """The word for `key` in `language`; English, marked `lang="en"`, when sitegen has no translation."""
    primary = language.replace("_", "-").split("-")[0].lower()
    words = LABELS.get(primary)
    text = (words or LABELS["en"])[key].format(**values)
    if words is None:
        # An English word on a page in another language says so, for screen readers and translators.
        return Markup('<span lang="en">{}</span>').format(text)
    return escape(text)
