"""Presidio scrubbing of the strings that survive into the public layer.

Offline by construction (stack notes §2): the `no_op` NLP engine loads no model, and
`TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS=""` stops the e-mail recognizer's public-suffix download.
The analyzer is built once per process; each distinct string is analyzed once per deny-list.

Recognizers: Presidio's built-in pattern recognizers except `UrlRecognizer` (it flags file names
whose extension is a country TLD, e.g. `app.py`), plus ours for what code logs leak: API keys
and tokens, long high-entropy strings, home and absolute paths, URLs with a scheme, host names,
e-mail addresses glued into identifiers (`mcp__jane@acme.com__search`), and the contributors'
names/handles as a deny-list.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

SCORE_THRESHOLD = 0.4

PLACEHOLDERS: dict[str, str] = {
    "EMAIL_ADDRESS": "<EMAIL>",
    "SECRET": "<SECRET>",
    "PERSON": "<PERSON>",
    "PATH": "<PATH>",
    "URL": "<URL>",
    "HOSTNAME": "<HOST>",
    "IP_ADDRESS": "<IP>",
    "MAC_ADDRESS": "<MAC>",
    "UUID": "<ID>",
    "PHONE_NUMBER": "<PHONE>",
    "CREDIT_CARD": "<CREDIT_CARD>",
    "CRYPTO": "<CRYPTO>",
    "IBAN_CODE": "<IBAN>",
    "US_SSN": "<SSN>",
    "US_ITIN": "<ITIN>",
    "US_PASSPORT": "<PASSPORT>",
    "UK_NHS": "<NHS>",
    "MEDICAL_LICENSE": "<MEDICAL_LICENSE>",
}

# Built-ins we ask for. Left out: URL (replaced, see above), DATE_TIME (model names carry dates
# like 20250514 that are not personal), US_BANK_NUMBER / US_DRIVER_LICENSE (their low-score
# matches fire on every long digit run and alphanumeric version suffix).
ENTITIES: tuple[str, ...] = tuple(PLACEHOLDERS)

# Handles and account names too generic to be anyone's name (the default contributor, CI and
# container users); matching them would mangle tool names (`local_shell`, `mcp__node_repl__run`).
GENERIC_HANDLES = frozenset(
    {
        "local", "user", "users", "default", "unknown", "anonymous", "root", "admin", "test",
        "dev", "ubuntu", "ec2-user", "vscode", "node", "codespace", "runner", "jovyan", "app",
        "home", "workspace", "project", "shared", "guest", "docker",
    }
)  # fmt: skip
MIN_DENY_LENGTH = 3
# A dated model id, as the APIs name them (Bedrock and Vertex forms too): Presidio's phone
# recognizer takes `4-5-20250929` in `claude-sonnet-4-5-20250929` (or `4.1-2025-04-14` in
# `gpt-4.1-2025-04-14`) for a number, which turned real clients' model names into
# `claude-sonnet-<PHONE>` (Table 1's model mix, pricing). Version parts of one or two digits
# only, so no phone number fits in.
MODEL_ID = re.compile(
    r"(?:[a-z]{2,4}\.)?(?:anthropic\.)?claude-"
    r"(?:(?:opus|sonnet|haiku)-\d{1,2}(?:-\d{1,2})?|\d(?:-\d)?-(?:opus|sonnet|haiku)(?:-v\d)?)"
    r"[-@]\d{8}(?:-v\d{1,2}(?::\d{1,2})?)?"
    r"|(?:gpt-\d(?:\.\d{1,2})?o?|o\d)(?:-(?:mini|nano|pro|turbo|preview))?-20\d\d-\d\d-\d\d"
)
# Kept strings are names and categories (tool names are at most 64 characters, reasons are cut
# to 40-60); a longer one is text, published as <LONG_TEXT> without analyzing it (which also
# bounds the time a pathological string can take in the recognizers).
MAX_KEPT_CHARS = 1000
LONG_TEXT = "LONG_TEXT"
# Presidio's phone recognizer (phonenumbers' matcher, once per region of 8) took two thirds of
# the analyzer's time. It reports only valid numbers, and a valid number's national part has
# at least 4 digits in every region phonenumbers knows (Austria, Germany, Niue, ...; a test
# checks its metadata), each a decimal digit of the text: a text with fewer has no phone number.
MIN_PHONE_DIGITS = 4
_DECIMAL_DIGIT = re.compile(r"\d")


def _offline_environment() -> None:
    # Must happen before tldextract is first used; setdefault keeps an operator's explicit choice.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")


def shannon_entropy(text: str) -> float:
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _secret_recognizers():
    import regex
    from presidio_analyzer import Pattern, PatternRecognizer

    case_sensitive = regex.MULTILINE | regex.DOTALL

    class SecretRecognizer(PatternRecognizer):
        """Known key/token formats; a digit and some entropy are required so words don't match."""

        def validate_result(self, pattern_text: str) -> bool | None:
            has_digit = any(ch.isdigit() for ch in pattern_text)
            has_alpha = any(ch.isalpha() for ch in pattern_text)
            return has_digit and has_alpha and shannon_entropy(pattern_text) >= 3.0

    class HighEntropyRecognizer(PatternRecognizer):
        """Long unbroken runs of base64/hex alphabet that look random (keys, tokens, hashes)."""

        def validate_result(self, pattern_text: str) -> bool | None:
            has_digit = any(ch.isdigit() for ch in pattern_text)
            has_alpha = any(ch.isalpha() for ch in pattern_text)
            return has_digit and has_alpha and shannon_entropy(pattern_text) >= 3.5

    no_alnum_before = r"(?<![A-Za-z0-9])"
    known = [
        Pattern("anthropic_key", no_alnum_before + r"sk-ant-[A-Za-z0-9_\-]{16,}", 0.95),
        Pattern("openai_key", no_alnum_before + r"sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{16,}", 0.9),
        Pattern(
            "github_token",
            no_alnum_before + r"(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,})",
            0.95,
        ),
        # (a lowercase word may come right before: `mcp__awsAKIA...`)
        Pattern("aws_access_key", r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])", 0.95),
        Pattern("stripe_key", no_alnum_before + r"[rsp]k_(?:live|test)_[A-Za-z0-9]{16,}", 0.9),
        Pattern("jwt", r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}", 0.95),
        Pattern("slack_token", no_alnum_before + r"xox[abposr]-[A-Za-z0-9\-]{10,}", 0.9),
        Pattern("google_api_key", no_alnum_before + r"AIza[0-9A-Za-z_\-]{30,}", 0.9),
        Pattern(
            "assigned_secret",
            r"(?i:api[_-]?key|access[_-]?token|auth[_-]?token|secret|password|passwd)"
            r"\s*[:=]\s*['\"]?[^\s'\"]{8,}",
            0.85,
        ),
    ]
    return [
        SecretRecognizer(
            supported_entity="SECRET",
            name="TracelabSecretRecognizer",
            patterns=known,
            global_regex_flags=case_sensitive,
        ),
        HighEntropyRecognizer(
            supported_entity="SECRET",
            name="TracelabHighEntropyRecognizer",
            patterns=[
                Pattern(
                    "high_entropy",
                    r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/=]{32,}(?![A-Za-z0-9+/=])",
                    0.7,
                )
            ],
            global_regex_flags=case_sensitive,
        ),
    ]


def _pattern_recognizers():
    import regex
    from presidio_analyzer import Pattern, PatternRecognizer

    case_sensitive = regex.MULTILINE | regex.DOTALL
    path_chars = r"[^\s/\\\"'<>|:;,()\[\]{}]"
    # A separator: / or \, or \\ as Python's repr writes it (rejection reasons quote with repr).
    sep = r"(?:\\\\|[/\\])"
    home_root = rf"(?:~|/home|/Users|/root|/var/home|(?i:[A-Za-z]:{sep}Users))"
    tlds = (
        "com|net|org|edu|gov|mil|int|io|ai|dev|app|cloud|local|localdomain|lan|internal|corp|"
        "intra|intranet|home|co|us|uk|de|fr|nl|se|ch|cn|jp|kr|in|ca|au|eu"
    )
    return [
        PatternRecognizer(
            supported_entity="PATH",
            name="TracelabPathRecognizer",
            patterns=[
                # Home directories carry user names; one component is enough.
                # "_" may come right before a path: `mcp__fs_/Users/carol/x`, `error_/home/...`.
                Pattern(
                    "home_path", rf"(?<![A-Za-z0-9.]){home_root}(?:{sep}{path_chars}+)+{sep}?", 0.9
                ),
                # Any other absolute path with at least two components (one would hit "/compact").
                Pattern(
                    "absolute_path",
                    rf"(?<![A-Za-z0-9.:/\\])(?:[A-Za-z]:)?(?:{sep}{path_chars}+){{2,}}{sep}?",
                    0.7,
                ),
                # Claude's encoded project directory names: -Users-alice-project
                Pattern("encoded_home", r"(?<![A-Za-z0-9])-(?:Users|home)-[A-Za-z0-9._-]+", 0.8),
            ],
            global_regex_flags=case_sensitive,
        ),
        PatternRecognizer(
            supported_entity="URL",
            name="TracelabSchemeUrlRecognizer",
            patterns=[
                Pattern(
                    "url_with_scheme",
                    r"(?i)\b(?:https?|ftp|sftp|ssh|git|wss?|file|s3|gs)://[^\s\"'<>]+",
                    0.9,
                )
            ],
            global_regex_flags=case_sensitive,
        ),
        PatternRecognizer(
            supported_entity="HOSTNAME",
            name="TracelabHostnameRecognizer",
            patterns=[
                Pattern(
                    "fqdn",
                    rf"(?i)(?<![A-Za-z0-9.\-@])(?:[a-z0-9](?:[a-z0-9\-]{{0,61}}[a-z0-9])?\.)+"
                    rf"(?:{tlds})(?![A-Za-z0-9\-])",
                    0.6,
                ),
                Pattern(
                    "machine_name",
                    # (starts only where a run of letters, digits and "-" starts: from every
                    # letter of `a-a-a-...` the scan was quadratic, 84 s for 40k characters)
                    r"(?i)(?<![A-Za-z0-9\-])-*[A-Za-z0-9][A-Za-z0-9\-]*-"
                    r"(?:MacBook(?:-Pro|-Air)?|MBP|iMac|Mac-mini|Mac-Studio|ThinkPad|Desktop|Laptop)"
                    r"(?:-[A-Za-z0-9]+)*(?![A-Za-z0-9])",
                    0.8,
                ),
                # Generated names: Windows (DESKTOP-4F2K9QH, WIN-...), EC2 (ip-10-0-1-23).
                Pattern(
                    "generated_machine_name",
                    r"(?<![A-Za-z0-9])(?:(?:DESKTOP|LAPTOP)-[A-Z0-9]{7}|WIN-[A-Z0-9]{11}"
                    r"|ip(?:-[0-9]{1,3}){4})(?![A-Za-z0-9])",
                    0.8,
                ),
            ],
            global_regex_flags=case_sensitive,
        ),
        PatternRecognizer(
            supported_entity="EMAIL_ADDRESS",
            name="TracelabEmailRecognizer",
            patterns=[
                # Built-in EmailRecognizer needs a word boundary after the TLD, so an address
                # glued into `mcp__jane@acme.com__search` escapes it.
                Pattern(
                    "email_in_identifier",
                    r"(?<![A-Za-z0-9%+\-])[A-Za-z0-9._%+\-]+@(?:[A-Za-z0-9\-]+\.)+[A-Za-z]{2,}"
                    r"(?![A-Za-z])",
                    0.9,
                ),
                # An address a reader cut short (rejection reasons keep 40 characters, ignored
                # record types 60): `maria.gonzalez@acme-ro`, `maria.gonzalez@`. A host part
                # starting with a digit is left alone (Vertex: `claude-3-5-sonnet-v2@20241022`).
                Pattern(
                    "email_cut_short",
                    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@"
                    r"(?:[A-Za-z][A-Za-z0-9\-]*(?:\.[A-Za-z0-9\-]+)*)?(?![0-9])",
                    0.6,
                ),
            ],
            global_regex_flags=case_sensitive,
        ),
        PatternRecognizer(
            supported_entity="UUID",
            name="TracelabIdShapeRecognizer",
            patterns=[
                # Presidio's UuidRecognizer takes RFC 4122 versions only; an id of another
                # version is still an id (it was left whole, or cut by a CREDIT_CARD finding).
                Pattern(
                    "uuid_shape",
                    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}"
                    r"(?![0-9A-Fa-f])",
                    0.85,
                )
            ],
            global_regex_flags=case_sensitive,
        ),
    ]


# Letters that look like Latin ones (Cyrillic, Greek, IPA), for matching: a handle typed with
# them (`jd\u043e\u0435`) is still the handle.
_LOOKALIKES = dict(
    zip(
        "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455\u04bb\u0501\u051b\u051d\u04cf"
        "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u0406\u0408\u0405\u0423"
        "\u03b1\u03bf\u03bd\u03c1\u03b9\u03ba\u03c5\u03f2\u03f3"
        "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7"
        "\u0131\u0237\u0251\u0261",
        "aeopcyxijshdqwlABEKMHOPCTXIJSYaovpikucjABEZHIKMNOPTYXijag",
        strict=True,
    )
)
# Dropped from every kept string: invisible format characters (zero-width spaces and joiners,
# soft hyphens, bidi controls), combining marks and control characters. They would let a name
# through the patterns (`j\u200bdoe`) while it still reads as the name.
_DROPPED_CATEGORIES = frozenset({"Cf", "Cc", "Mn", "Me"})


def normalize_text(text: str) -> str:
    """What the public layer keeps of a string: NFKC (fullwidth and styled letters become
    plain ones) without the characters above (tabs and newlines stay)."""
    if text.isascii() and text.isprintable():
        return text
    text = unicodedata.normalize("NFKC", text)
    return "".join(
        c for c in text if c in "\t\n\r" or unicodedata.category(c) not in _DROPPED_CATEGORIES
    )


@functools.lru_cache(maxsize=1 << 12)
def _fold_char(c: str) -> str:
    mapped = _LOOKALIKES.get(c)
    if mapped is not None:
        return mapped
    base = unicodedata.normalize("NFKD", c)[:1]  # an accented letter's base: \u00f6 -> o
    return base if base.isascii() and base.isalpha() else c


def fold(text: str) -> str:
    """`text` with lookalike and accented letters as plain Latin ones, for matching only: one
    character for one, so a finding's offsets hold in `text` too."""
    if text.isascii():
        return text
    return "".join(c if c.isascii() else _fold_char(c) for c in text)


@functools.cache
def analyzer():
    """The process-wide AnalyzerEngine (building it per call is the #367 slowness)."""
    _offline_environment()
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    nlp_engine = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "no_op",
            "models": [{"lang_code": "en", "model_name": "no_op"}],
        }
    ).create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    # Loading warns once per non-English predefined recognizer it skips; that is by design here.
    log = logging.getLogger("presidio-analyzer")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        registry.load_predefined_recognizers(nlp_engine=nlp_engine, languages=["en"])
    finally:
        log.setLevel(level)
    registry.remove_recognizer("UrlRecognizer")
    registry.remove_recognizer("PhoneRecognizer")
    registry.add_recognizer(_phone_recognizer())
    for recognizer in _secret_recognizers() + _pattern_recognizers():
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=["en"])


def _phone_recognizer():
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    class LogPhoneRecognizer(PhoneRecognizer):
        """Presidio's, but no phone number in a dated model id (MODEL_ID), nor in a text with
        fewer than MIN_PHONE_DIGITS digits."""

        def analyze(self, text, entities, nlp_artifacts=None):
            if len(_DECIMAL_DIGIT.findall(text)) < MIN_PHONE_DIGITS or MODEL_ID.fullmatch(text):
                return []
            return super().analyze(text, entities, nlp_artifacts)

    recognizer = LogPhoneRecognizer(name="PhoneRecognizer")
    # The gate holds for valid numbers only (leniency VALID or stricter), Presidio's default.
    assert recognizer.leniency >= 1
    return recognizer


@functools.lru_cache(maxsize=1 << 17)
def _shared_findings(text: str) -> tuple[tuple[int, int, float, str], ...]:
    """(start, end, score, entity) of the built-in and our pattern recognizers, deny-list aside."""
    results = analyzer().analyze(
        text, language="en", entities=list(ENTITIES), score_threshold=SCORE_THRESHOLD
    )
    return tuple((r.start, r.end, r.score, r.entity_type) for r in results)


def usable_deny_list(names: Iterable[str]) -> tuple[str, ...]:
    """Names worth matching: long enough and not generic words; sorted, deduplicated ignoring
    case (matching ignores case too)."""
    kept: dict[str, str] = {}
    for n in names:
        n = (n or "").strip()
        if len(n) >= MIN_DENY_LENGTH and n.lower() not in GENERIC_HANDLES:
            kept.setdefault(n.lower(), n)
    return tuple(kept[k] for k in sorted(kept))


def name_regex(name: str) -> str:
    # "Jane Doe" also matches jane_doe, jane.doe, jane-doe, janedoe; letters/digits must not
    # continue on either side, but "_" may (tool names are snake_case: mcp__jdoe_tools).
    parts = [re.escape(p) for p in re.split(r"[\s._\-]+", name) if p]
    return r"(?<![A-Za-z0-9])" + r"[\s._\-]?".join(parts) + r"(?![A-Za-z0-9])"


def _deny_list_recognizer(names: tuple[str, ...]):
    import regex
    from presidio_analyzer import Pattern, PatternRecognizer

    if not names:
        return None
    # Longest first: `mary-jane` must win over `mary`, or `-jane` would stay. Names are folded
    # like the text they are matched against.
    folded = sorted({fold(normalize_text(n)) for n in names}, key=lambda n: (-len(n), n))
    pattern = "(?:" + "|".join(name_regex(n) for n in folded) + ")"
    return PatternRecognizer(
        supported_entity="PERSON",
        name="TracelabContributorDenyList",
        patterns=[Pattern("contributor_name", pattern, 1.0)],
        global_regex_flags=regex.IGNORECASE | regex.MULTILINE | regex.DOTALL,
    )


class Scrubber:
    """Replaces findings with typed placeholders, analyzing each distinct string once."""

    def __init__(self, deny_list: Iterable[str] = ()):
        self.deny_list = usable_deny_list(deny_list)
        self._engine = analyzer()
        self._deny = _deny_list_recognizer(self.deny_list)
        self._cache: dict[str, tuple[str, tuple[str, ...]]] = {}

    @property
    def distinct_analyzed(self) -> int:
        return len(self._cache)

    def findings(self, text: str) -> list[tuple[str, int, int, float]]:
        """(entity, start, end, score) of every finding above the threshold, overlaps merged."""
        # The shared recognizers' findings do not depend on the deny-list, so they are cached
        # per text for every Scrubber (43 contributors see the same model and tool names); the
        # deny-list is one regex run here. Presidio scores, enhances and de-duplicates each
        # recognizer's results on their own (de-duplication only within an entity type, and
        # only PERSON comes from the deny-list), and overlaps are merged below either way.
        # Matched on the folded text (same offsets). Presidio's built-in recognizers want a word
        # boundary, which "_" is not (`mcp__redis_10.0.0.5__get`): a text with "_" is also
        # analyzed with spaces in their place (same offsets again).
        probe = fold(text)
        spans = [*_shared_findings(probe)]
        if "_" in probe:
            spans += _shared_findings(probe.replace("_", " "))
        if self._deny is not None:
            spans += [
                (r.start, r.end, r.score, r.entity_type)
                for r in self._deny.analyze(probe, entities=["PERSON"])
                if r.score >= SCORE_THRESHOLD
            ]
        spans.sort(key=lambda s: (s[0], -s[1]))
        merged: list[list] = []
        for start, end, score, entity in spans:
            if merged and start < merged[-1][1]:
                last = merged[-1]
                # Overlap: one placeholder for the union, typed by the widest finding (a path
                # that contains a user name is a <PATH>), then by confidence.
                if (end - start, score) > (last[4], last[2]):
                    last[2], last[3], last[4] = score, entity, end - start
                last[1] = max(last[1], end)
            else:
                merged.append([start, end, score, entity, end - start])
        return [(entity, start, end, score) for start, end, score, entity, _ in merged]

    def scrub(self, text: str) -> tuple[str, tuple[str, ...]]:
        """The text normalized (normalize_text) with findings replaced, and the entity type of
        each replacement."""
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        if len(text) > MAX_KEPT_CHARS:
            hit = self._cache[text] = (f"<{LONG_TEXT}>", (LONG_TEXT,))
            return hit
        out = normalize_text(text)
        found = self.findings(out)
        for entity, start, end, _ in reversed(found):
            out = out[:start] + PLACEHOLDERS.get(entity, f"<{entity}>") + out[end:]
        hit = (out, tuple(entity for entity, *_ in found))
        self._cache[text] = hit
        return hit


@functools.lru_cache(maxsize=64)
def _scrubber_for(names: tuple[str, ...]) -> Scrubber:
    return Scrubber(names)


def scrubber_for(names: Iterable[str]) -> Scrubber:
    """A shared Scrubber per deny-list, so a contributor's partitions reuse one string cache."""
    return _scrubber_for(usable_deny_list(names))
