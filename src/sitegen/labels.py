"""The theme's own words on article pages, in the article's language where sitegen knows them."""

from __future__ import annotations

from markupsafe import Markup, escape

LABELS: dict[str, dict[str, str]] = {
    "en": {"pages": "Pages", "newer": "← Newer", "older": "Older →",
           "home": "Home", "by": "By", "and": "and", "updated": "Updated", "minutes": "{n} min read",
           "correction": "Correction", "source": "Source", "tags": "Tags", "related": "Related",
           "moved": "This story has moved to", "search": "Search", "search_label": "Search the stories of this site",
           "section": "Section", "year": "Year", "any": "Any", "sort": "Order", "relevance": "Best match",
           "newest": "Newest first", "results": "{n} results for “{q}”", "no_results": "No stories match “{q}”.",
           "loading": "Loading the search…", "unavailable": "Search could not load. Try again later.",
           "no_script": "Search runs in your browser, which has JavaScript turned off.",
           "fallback": "This form sends your search to {engine}, restricted to {host}."},
    "vi": {"pages": "Trang", "newer": "← Mới hơn", "older": "Cũ hơn →",
           "home": "Trang chủ", "by": "Tác giả:", "and": "và", "updated": "Cập nhật", "minutes": "{n} phút đọc",
           "correction": "Đính chính", "source": "Nguồn", "tags": "Chủ đề", "related": "Tin liên quan",
           "moved": "Bài viết đã được chuyển sang", "search": "Tìm kiếm", "search_label": "Tìm bài viết trên trang này",
           "section": "Chuyên mục", "year": "Năm", "any": "Tất cả", "sort": "Sắp xếp", "relevance": "Phù hợp nhất",
           "newest": "Mới nhất", "results": "{n} kết quả cho “{q}”", "no_results": "Không có bài viết nào khớp với “{q}”.",
           "loading": "Đang tải công cụ tìm kiếm…", "unavailable": "Không tải được công cụ tìm kiếm. Vui lòng thử lại sau.",
           "no_script": "Tìm kiếm chạy trong trình duyệt của bạn, nhưng JavaScript đang bị tắt.",
           "fallback": "Biểu mẫu này gửi từ khóa đến {engine}, chỉ tìm trên {host}."},
    "ar": {"pages": "الصفحات", "newer": "→ الأحدث", "older": "الأقدم ←",
           "home": "الرئيسية", "by": "بقلم", "and": "و", "updated": "تحديث", "minutes": "{n} دقيقة للقراءة",
           "correction": "تصحيح", "source": "المصدر", "tags": "الوسوم", "related": "ذو صلة",
           "moved": "نُقل هذا المقال إلى", "search": "بحث", "search_label": "ابحث في مقالات هذا الموقع",
           "section": "القسم", "year": "السنة", "any": "الكل", "sort": "الترتيب", "relevance": "الأكثر صلة",
           "newest": "الأحدث أولاً", "results": "{n} نتيجة لـ «{q}»", "no_results": "لا توجد مقالات تطابق «{q}».",
           "loading": "جارٍ تحميل البحث…", "unavailable": "تعذر تحميل البحث. حاول لاحقاً.",
           "no_script": "يعمل البحث في متصفحك، وJavaScript معطّل فيه.",
           "fallback": "يرسل هذا النموذج بحثك إلى {engine}، مقتصراً على {host}."},
    "fr": {"pages": "Pages", "newer": "← Plus récents", "older": "Plus anciens →",
           "home": "Accueil", "by": "Par", "and": "et", "updated": "Mis à jour", "minutes": "{n} min de lecture",
           "correction": "Rectificatif", "source": "Source", "tags": "Mots-clés", "related": "À lire aussi",
           "moved": "Cet article a été déplacé :", "search": "Recherche", "search_label": "Chercher dans les articles du site",
           "section": "Rubrique", "year": "Année", "any": "Toutes", "sort": "Ordre", "relevance": "Pertinence",
           "newest": "Plus récents d’abord", "results": "{n} résultats pour « {q} »",
           "no_results": "Aucun article ne correspond à « {q} ».", "loading": "Chargement de la recherche…",
           "unavailable": "La recherche n’a pas pu se charger. Réessayez plus tard.",
           "no_script": "La recherche fonctionne dans votre navigateur, où JavaScript est désactivé.",
           "fallback": "Ce formulaire envoie votre recherche à {engine}, limitée à {host}."},
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
