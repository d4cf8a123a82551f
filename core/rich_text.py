"""Markdown written by people, rendered to HTML that is safe to put in any page.

Markdown passes raw HTML through, so its output is never trusted: nh3 keeps only the tags
and attributes below and drops everything else (scripts with their content, event
handlers, styles, images, unknown URL schemes).
"""

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = frozenset(
    {
        *(f"h{level}" for level in range(1, 7)),
        "p",
        "br",
        "hr",
        "ul",
        "ol",
        "li",
        "strong",
        "em",
        "a",
        "code",
        "pre",
        "blockquote",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }
)
ALLOWED_ATTRIBUTES = {"a": {"href"}}
# Links leave the app for sites we do not control: no opener access, no referrer, no SEO vouching.
LINK_REL = "noopener noreferrer nofollow"
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
MARKDOWN_EXTENSIONS = ["tables", "fenced_code", "sane_lists"]


def render_markdown(text: str) -> SafeString:
    """Markdown source to sanitised HTML; empty text gives an empty string."""
    if not text or not text.strip():
        return mark_safe("")
    html = markdown.markdown(text, extensions=MARKDOWN_EXTENSIONS, output_format="html")
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        # "*" is nh3's key for attributes on every tag; it allows lang and title unless told.
        attributes={"*": set(), **{tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()}},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
    return mark_safe(cleaned)
