"""The app against hostile links and uploads (issue 23, the URL and upload boundary).

Every URL value is bounded and checked in O(1) before any work, and every
text that came from outside (a URL value, an upload's name, a dataset's class
name, an error message) is shown escaped: never a link, an image, HTML, a
Streamlit directive or LaTeX. Most cases are pure and cheap: ``parse_view``
over each view field × a list of hostile values, and ``text.plain`` over
hostile texts, rendered with markdown-it (CommonMark) where it is installed.
Then each page runs once per hostile link (AppTest, the shipped zoo, whose
shipped sweep makes every page fast), and Compare takes hostile uploads.
"""

from __future__ import annotations

import html
import io
import re
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from shiftlab.app import text
from shiftlab.app.view import FIELDS, MAX_VALUE, SEED_MAX, ImageRef, View, parse_view, shorten, whole

try:  # a CommonMark renderer (installed with rich); without it the string checks still run
    from markdown_it import MarkdownIt
except ImportError:  # pragma: no cover - depends on the environment
    MarkdownIt = None

PAGES = Path(__file__).resolve().parents[1] / "app_pages"
SIZES = {"cifar10-sample": 200, "cifar10": 10_000}
#: what a URL value must cost at most (the issue: ``?seed=-1`` took about 150 s of a core)
PARSE_SECONDS = 0.25

#: values no view field accepts; each carries a marker (PWNED, evil.example) that must never render as markup
HOSTILE = {
    "negative": "-1",
    "huge-int": "9" * 100_001,
    "exponent": "1e9",
    "float": "3.0",
    "nan": "NaN",
    "inf": "inf",
    "arabic-digit": "٣",
    "superscript-digit": "³",
    "fullwidth-digit": "３",
    "padded": " 3 ",
    "plus-sign": "+3",
    "underscore-int": "1_0",
    "hex": "0x3",
    "empty": "",
    "nul": "\x00",
    "just-too-long": "a" * (MAX_VALUE + 1),
    "markdown-image": "![x](https://evil.example/p.png)",
    "markdown-link": "[Log in](https://evil.example)",
    "html-img": '<img src="https://evil.example/p.png" onerror="alert(1)">',
    "html-script": "<script>alert('PWNED')</script>",
    "html-anchor": '<a href="https://evil.example">PWNED</a>',
    "javascript-link": "[PWNED](javascript:alert(1))",
    "backticks": "`PWNED`",
    "latex": "$PWNED$",
    "directive": ":red[PWNED]",
    "newlines": "x\n\n# PWNED\n- [y](https://evil.example)",
    "bare-url": "https://evil.example/PWNED",
    "www": "www.evil.example",
    "email": "PWNED@evil.example",
    "bidi-override": "\u202ePWNED",
    "image-overflow": "cifar10-sample:99999999999999999999",
    "image-negative": "cifar10-sample:-1",
    "image-unicode-index": "cifar10-sample:٣",
    "photo-traversal": "photo:../../etc/passwd",
}
#: raw Markdown/HTML a hostile value could smuggle in, as it would read with its escapes removed
DANGEROUS = ("](http", "](javascript", "<img", "<a ", "<script", "javascript:", ":red[PWNED", "$PWNED", "`PWNED",
             "://evil", "www.evil", "@evil", "\n#", "\u202e")
_ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~]|&(?:lt|gt|amp);")


def assert_inert(markdown: str) -> None:
    """``markdown`` carries no link, image, HTML, directive or LaTeX from a hostile value."""
    bare = _ESCAPE.sub("", markdown)
    for syntax in DANGEROUS:
        assert syntax not in bare, (syntax, markdown)
    if MarkdownIt is not None:
        rendered = MarkdownIt("commonmark").render(markdown)
        assert "<img" not in rendered and "<script" not in rendered, rendered
        assert "evil" not in "".join(re.findall(r"<a [^>]*>", rendered)) and 'href="javascript' not in rendered


@pytest.fixture(scope="module")
def defaults() -> View:
    return parse_view({}, SIZES)


# ---------------------------------------------------------------- URL values: parse level, each field × each value


@pytest.mark.parametrize("key", FIELDS)
@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
def test_a_hostile_url_value_falls_back_at_once_with_one_escaped_note(key, value, defaults):
    start = time.perf_counter()
    view = parse_view({key: value}, SIZES)
    assert time.perf_counter() - start < PARSE_SECONDS
    assert view == defaults  # notes are not compared: every field is its default
    [note] = view.notes
    assert (note.key, note.given) == (key, value) and note.reason and note.choices
    body, choices = text.url_note(view.notes)
    assert_inert(body)
    assert_inert(choices)
    assert len(body) < 600 and body.count("\n") == 1  # the value is cut and its line breaks are gone


def test_seed_minus_one_costs_nothing():
    """The issue's case: the note's ``min``/``max`` walked range(0, 2**31), about 150 s per new session."""
    start = time.perf_counter()
    view = parse_view({"seed": "-1"}, SIZES)
    assert time.perf_counter() - start < 0.1
    assert view.seed == 0 and "0 to 2147483647" in view.notes[0].reason


@pytest.mark.parametrize("seed", [0, 1, 12345, SEED_MAX])
def test_every_seed_in_range_is_kept(seed):
    view = parse_view({"seed": str(seed)}, SIZES)
    assert view.seed == seed and not view.notes


@pytest.mark.parametrize("seed", [str(SEED_MAX + 1), "9999999999", "99999999999"])
def test_a_seed_past_the_range_is_refused(seed):
    assert parse_view({"seed": seed}, SIZES).notes[0].key == "seed"


@pytest.mark.parametrize("severity", ["1", "2", "3", "4", "5"])
def test_every_severity_is_kept(severity):
    view = parse_view({"severity": severity}, SIZES)
    assert view.severity == int(severity) and not view.notes


@pytest.mark.parametrize("severity", ["0", "6", "1000000000"])
def test_a_severity_outside_one_to_five_is_refused(severity):
    assert parse_view({"severity": severity}, SIZES).notes[0].reason == "severities are 1 to 5"


@pytest.mark.parametrize("query", [
    {"image": "cifar10-sample:199", "shift": "fog", "severity": "2", "seed": "4", "methods": "gradcam",
     "target": "own"},
    {"image": "cifar10:9999", "methods": "saliency,gradcam"},
    {"image": "photo:coffee", "shift": "rotate", "seed": str(SEED_MAX)},
], ids=["sample", "full-test-set", "photo"])
def test_a_valid_link_reads_back_unchanged(query, defaults):
    view = parse_view(query, SIZES)
    assert not view.notes and {k: view.to_query()[k] for k in query} == query
    assert parse_view(view.to_query(), SIZES) == view


def test_a_link_with_every_value_bad_gives_one_note_and_folds_the_choices():
    view = parse_view({key: f"[PWNED](https://evil.example/{key})" for key in FIELDS}, SIZES)
    assert [note.key for note in view.notes] == list(FIELDS)
    body, choices = text.url_note(view.notes)
    assert body.count("URL parameter") == len(FIELDS)
    assert "shot\\_noise" not in body and "shot\\_noise" in choices  # the 30-odd shift names are folded away
    assert_inert(body)
    assert_inert(choices)


def test_a_repeated_key_reads_its_last_value_as_streamlit_does():
    assert parse_view({"seed": ["1", "7"]}, SIZES).seed == 7
    view = parse_view({"seed": ["7", "-1"]}, SIZES)
    assert view.seed == 0 and view.notes[0].given == "-1"


@pytest.mark.parametrize("value", [5, None, 3.0, [], b"3"], ids=["int", "none", "float", "empty-list", "bytes"])
def test_a_value_that_is_not_text_is_noted(value):
    view = parse_view({"severity": value}, SIZES)
    assert view.severity == 3 and view.notes[0].reason in ("not text", "the value is empty")


def test_keys_that_are_not_view_fields_are_ignored(defaults):
    view = parse_view({f"k{i}": "x" * 10_000 for i in range(1_000)}, SIZES)
    assert view == defaults and not view.notes


@pytest.mark.parametrize("ref", ["cifar10-sample:" + "9" * 50, "photo:" + "x" * 50, "x" * 50 + ":1"])
def test_an_image_error_never_repeats_the_text(ref):
    with pytest.raises(ValueError) as caught:
        ImageRef.parse(ref, SIZES)
    assert "x" * 10 not in str(caught.value) and "9" * 11 not in str(caught.value)


def test_whole_numbers_are_ascii_digits_compared_with_the_ends_only():
    start = time.perf_counter()
    assert whole("2147483647", 0, 2**31 - 1, "seeds") == 2**31 - 1
    with pytest.raises(ValueError, match="seeds 0 to 2147483647"):
        whole("-1", 0, 2**31 - 1, "seeds")
    assert time.perf_counter() - start < 0.05


def test_a_long_value_is_shown_cut_with_its_length():
    shown = shorten("a" * 100_000)
    assert len(shown) < 80 and "100,000 characters" in shown
    assert shorten("\n\x00") == "'\\n\\x00'"  # line breaks and control characters visible, not obeyed


# ---------------------------------------------------------------- the one escaping function


PLAIN = {
    **{name: value for name, value in HOSTILE.items() if name not in ("huge-int", "just-too-long")},
    "link-reference": "[x]: https://evil.example",
    "autolink": "<https://evil.example>",
    "html-entity": "&lt;img&gt; &#60;img&#62;",
    "emphasis": "*PWNED* _PWNED_ **PWNED** ~~PWNED~~",
    "heading": "# PWNED",
    "ordered-list": "1. PWNED",
    "bullet-list": "- PWNED",
    "quote": "> PWNED",
    "table": "| a | b |\n|---|---|\n| c | d |",
    "hard-break": "a  \nb",
    "code-fence": "```\nPWNED\n```",
    "indented-code": "    PWNED",
    "material-icon": ":material/warning: PWNED",
    "background-directive": ":red-background[PWNED]",
    "double-dollar": "$$\nPWNED\n$$",
    "backslashes": "\\[PWNED\\](https://evil.example)",
    "windows-path": "C:\\Users\\PWNED\\file.png",
    "file-name": "![x](https://evil.example/p.png).png",
    "tab-and-cr": "a\tb\rc",
    "escape-sequence": "\x1b[31mPWNED",
    "zero-width": "PW\u200bNED",
    "plain-word": "cat",
    "path": "/work/shiftlab/_store/sample",
}


@pytest.mark.parametrize("value", list(PLAIN.values()), ids=list(PLAIN))
def test_plain_text_renders_as_itself_and_nothing_more(value):
    shown = text.plain(value)
    assert_inert(shown)
    expected = "".join("\ufffd" if not c.isprintable() else c for c in " ".join(value.split()))
    if MarkdownIt is not None:
        rendered = MarkdownIt("commonmark").render(shown)
        assert re.fullmatch(r"(<p>.*</p>\n)?", rendered, re.S), rendered  # one paragraph of text, no other block
        assert html.unescape(re.sub(r"</?p>\n?", "", rendered)) == expected


@pytest.mark.parametrize("size", [10**3, 10**6])
def test_plain_text_is_cut_to_its_limit_at_once(size):
    start = time.perf_counter()
    shown = text.plain("[x](https://evil.example)" * size)
    assert time.perf_counter() - start < 0.5 and shown.endswith("…") and len(shown) < 4 * text.PLAIN_LIMIT


def test_ordinary_names_are_left_alone_but_for_their_dashes():
    for name in ("cat", "automobile", "photo.png", "cifar10 sample", "photo-1.png"):
        assert text.plain(name) == name.replace("-", "\\-")


# ---------------------------------------------------------------- every page, hostile links (AppTest)


@pytest.fixture(scope="module")
def shipped_zoo():
    """The shipped zoo, whose shipped sweep holds the figures of its models: every page reads them and runs in
    seconds (the sweep is read only for the shipped zoo, ``SHIFTLAB_CHECKPOINTS`` unset)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("SHIFTLAB_CHECKPOINTS", raising=False)
        yield


LINKS = {
    "markup": {"arch": "[Log in](https://evil.example)", "variant": "<img src=x onerror=alert(1)>",
               "image": "![x](https://evil.example/p.png)", "shift": ":red[PWNED]", "severity": "$PWNED$",
               "seed": "`PWNED`", "methods": "<script>alert('PWNED')</script>",
               "target": "x\n# PWNED\nwww.evil.example"},
    "numbers": {"seed": "9" * 100_001, "severity": "1e9", "image": "cifar10-sample:99999999999999999999",
                "methods": "", "arch": "\x00", "shift": "NaN", "target": "٣", "variant": " "},
    "issue": {"image": "![x](https://evil.example/p.png)", "variant": "[Log in](https://evil.example)", "seed": "-1"},
}
VIEW_PAGES = ("compare", "variants", "triptych", "calibration", "spectral", "cases", "ood", "trust", "home")


def texts(at: AppTest) -> list[str]:
    """Every Markdown source the page shows: bodies, labels, help, captions (image captions included)."""
    found, stack = [], [at._tree]
    while stack:
        node = stack.pop()
        stack.extend(getattr(node, "children", {}).values())
        for name in ("value", "body", "label", "help", "caption"):
            if isinstance(value := getattr(node, name, None), str):
                found.append(value)
        found += [image.caption for image in getattr(getattr(node, "proto", None), "imgs", [])]
    return found


#: every link on Compare; the markup and the issue's links on every page reading the view; Robustness reads none
PAGE_LINKS = [("compare", "numbers"), *[(page, link) for page in VIEW_PAGES for link in ("markup", "issue")],
              ("robustness", "issue")]


@pytest.mark.parametrize(("page", "link"), PAGE_LINKS, ids=[f"{page}-{link}" for page, link in PAGE_LINKS])
def test_every_page_takes_a_hostile_link_without_markup_or_traceback(page, link, shipped_zoo):
    start = time.perf_counter()
    at = AppTest.from_file(str(PAGES / f"{page}.py"), default_timeout=120)
    at.query_params.update(LINKS[link])
    at.run()
    assert time.perf_counter() - start < 90
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    for shown in texts(at):
        assert_inert(shown)
    notes = [w.value for w in at.warning if "URL parameter" in w.value]
    if page in VIEW_PAGES:
        assert len(notes) == 1 and notes[0].count("URL parameter") == len(LINKS[link])
        assert any(e.label == text.URL_CHOICES for e in at.expander)
        assert at.query_params["seed"] in ("0", ["0"])  # the URL is rewritten with the values shown


# ---------------------------------------------------------------- uploads on Compare


def encoded(picture: Image.Image, kind: str, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, kind, **options)
    return buffer.getvalue()


def noise(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (*size, 3), dtype=np.uint8)).convert(mode)


def png_header(width: int, height: int) -> bytes:
    """A valid PNG that declares ``width``×``height`` pixels but holds a few bytes of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def animated() -> bytes:
    frames = [Image.new("RGB", (40, 40), colour) for colour in ("red", "blue", "green")]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])


def sixteen_bit() -> bytes:
    return encoded(Image.fromarray(np.arange(1600, dtype=np.uint16).reshape(40, 40) * 40), "PNG")


#: name -> (file name, bytes, words of the one-line error, or None when the upload is used)
UPLOADS = {
    "empty-file": ("empty.png", b"", "not an image file"),
    "text-named-png": ("notes.png", b"hello, I am text\n" * 10, "not an image file"),
    "truncated-png": ("cut.png", encoded(noise((40, 40)), "PNG")[:80], "image"),
    "one-pixel": ("dot.png", encoded(noise((1, 1)), "PNG"), "1×1"),
    "huge-dimensions": ("huge.png", png_header(100_000, 100_000), "too large"),
    "over-the-limit": ("big.png", png_header(9_000, 9_000), "megapixels"),
    "extreme-strip": ("strip.png", png_header(4_000, 8), "aspect ratio"),
    "animated-gif": ("moving.gif", animated(), None),
    "cmyk-jpeg": ("print.jpg", encoded(noise((40, 40), "CMYK"), "JPEG"), None),
    "sixteen-bit-png": ("deep.png", sixteen_bit(), None),
    "rgba-png": ("alpha.png", encoded(noise((40, 40), "RGBA"), "PNG"), None),
    "grayscale-png": ("grey.png", encoded(noise((40, 40), "L"), "PNG"), None),
    "markdown-name": ("![x](https://evil.example/p.png).png", encoded(noise((40, 40)), "PNG"), None),
    "html-name": ('<img src="https://evil.example/p.png">.png', encoded(noise((40, 40)), "PNG"), None),
    "newline-name": ("a\n# PWNED\n[y](https://evil.example).png", encoded(noise((40, 40)), "PNG"), None),
    "markdown-name-broken-file": ("[PWNED](https://evil.example).png", b"\x89PNG\r\n", "image"),
}


@pytest.fixture(scope="module")
def compare_app(shipped_zoo) -> AppTest:
    at = AppTest.from_file(str(PAGES / "compare.py"), default_timeout=120)
    at.query_params.update({"methods": "gradcam"})
    return at.run()


@pytest.mark.parametrize("case", list(UPLOADS))
def test_a_hostile_upload_gets_a_clear_note(case, compare_app):
    name, data, error = UPLOADS[case]
    compare_app.sidebar.file_uploader(key="upload").set_value((name, data, "image/png"))
    start = time.perf_counter()
    compare_app.run()
    assert time.perf_counter() - start < 30
    assert not compare_app.exception, [e.value for e in compare_app.exception]
    for shown in texts(compare_app):
        assert_inert(shown)
    if error is None:
        assert not compare_app.error, [e.value for e in compare_app.error]
        assert any(m.value.startswith("**resnet20/baseline**  \nupload: ") for m in compare_app.markdown)
    else:
        [message] = [e.value for e in compare_app.error]
        assert error in message and "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize("page", ["home", "spectral"])
def test_an_upload_name_is_shown_escaped_on_every_page_showing_it(page, shipped_zoo):
    at = AppTest.from_file(str(PAGES / f"{page}.py"), default_timeout=120).run()
    name = "![x](https://evil.example/p.png)\n<img src=x>.png"
    at.sidebar.file_uploader(key="upload").set_value((name, encoded(noise((40, 40)), "PNG"), "image/png"))
    at.run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    shown = texts(at)
    assert any("upload: \\!\\[x\\]\\(https\\://evil.example/p.png\\) &lt;img src=x&gt;.png" in s for s in shown)
    for markdown in shown:
        assert_inert(markdown)
