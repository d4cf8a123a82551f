from django.utils.safestring import SafeString

from core.rich_text import render_markdown


def test_empty_text_renders_nothing():
    assert render_markdown("") == ""
    assert render_markdown("  \n ") == ""
    assert isinstance(render_markdown(""), SafeString)


def test_script_tags_are_removed_with_their_content():
    html = render_markdown("Hello\n\n<script>alert('x')</script>\n\nbye <script>steal()</script>")
    assert "<script" not in html
    assert "alert" not in html and "steal" not in html
    assert "Hello" in html and "bye" in html


def test_event_handlers_and_unknown_tags_are_removed():
    html = render_markdown(
        '<img src="x" onerror="alert(1)">\n\n<p onclick="alert(2)" style="color:red">hi</p>'
        '\n\n<iframe src="https://evil.test"></iframe>'
    )
    assert "onerror" not in html and "onclick" not in html and "style" not in html
    assert "<img" not in html and "<iframe" not in html
    assert "alert" not in html
    assert "<p>hi</p>" in html


def test_javascript_links_lose_their_href():
    html = render_markdown(
        '[click](javascript:alert(1)) and <a href="JaVaScRiPt:alert(2)">raw</a>'
        ' and <a href="data:text/html;base64,PHNjcmlwdD4=">data</a>'
    )
    assert "javascript" not in html.lower()
    assert "data:" not in html
    assert "click" in html and "raw" in html


def test_links_are_kept_with_a_safe_rel():
    html = render_markdown(
        '[Docs](https://example.com/docs "Title") <a href="https://x.test" rel="opener">x</a>'
    )
    assert '<a href="https://example.com/docs" rel="noopener noreferrer nofollow">Docs</a>' in html
    assert 'rel="opener"' not in html
    assert "title=" not in html  # only href is on the allow-list


def test_headings_lists_emphasis_code_quotes_and_tables_are_kept():
    text = """# Title
###### Small

Some **bold**, *italic* and `code`.<two spaces>
Next line.

1. first
2. second

- a
- b

> a quote

---

```
block of code
```

| Name | Role |
|:-----|-----:|
| Jo   | Lead |
"""
    # Two trailing spaces make a line break; spelled out so editors do not strip them.
    html = render_markdown(text.replace("<two spaces>", "  "))
    for fragment in [
        "<h1>Title</h1>",
        "<h6>Small</h6>",
        "<strong>bold</strong>",
        "<em>italic</em>",
        "<code>code</code>",
        "<br>",
        "<ol>",
        "<ul>",
        "<li>first</li>",
        "<blockquote>",
        "<hr>",
        "<pre><code>block of code",
        "<table>",
        "<thead>",
        "<tbody>",
        "<th>Name</th>",
        "<td>Lead</td>",
    ]:
        assert fragment in html, fragment
    # Alignment comes out of Markdown as inline style, which is not allowed.
    assert "style=" not in html


def test_output_is_escaped_text_not_markup_for_plain_angle_brackets():
    html = render_markdown("Use 1 < 2 & keep <b>bold tags</b> out")
    assert "<b>" not in html
    assert "&lt;" in html and "&amp;" in html
