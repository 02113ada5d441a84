SITENAME = "Synthetic Daily"
SITEURL = "https://bench.example"
TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_LANG = "en"
THEME = "theme"
DEFAULT_PAGINATION = 20
PAGINATED_TEMPLATES = {"index": None, "tag": None, "category": None, "author": None}
FEED_ALL_ATOM = "feeds/all.atom.xml"
CATEGORY_FEED_ATOM = "feeds/{slug}.atom.xml"
TAG_FEED_ATOM = "feeds/tag-{slug}.atom.xml"
AUTHOR_FEED_ATOM = "feeds/author-{slug}.atom.xml"
DIRECT_TEMPLATES = ["index"]
ARTICLE_URL = ARTICLE_SAVE_AS = "{category}/{slug}/index.html"
LOAD_CONTENT_CACHE = False
