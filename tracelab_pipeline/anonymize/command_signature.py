"""Coarse, leak-free signature of a shell tool call: program + subcommand from an allow-list.

TraceLab drops tool inputs entirely; we keep just enough to study tool latency by what the
command does (paper §6.4): `pytest`, `git status`, `cargo build`, `npm test`, `python -m pytest`.
Anything not on the allow-list becomes `other`; arguments, paths and file names never survive.
"""

from __future__ import annotations

import functools
import os
import re
import shlex

import orjson

SHELL_TOOLS = frozenset(
    {
        "bash",
        "exec_command",
        "shell",
        "local_shell",
        "local_shell_call",
        "shell_command",
        "container.exec",
    }
)
OTHER = "other"

# program -> allowed subcommands (empty: the program alone is the signature)
PROGRAMS: dict[str, frozenset[str]] = {
    name: frozenset(subs.split())
    for name, subs in {
        "git": "status diff log show add commit push pull fetch checkout switch branch merge "
        "rebase stash reset restore clone rm mv tag remote grep blame cherry-pick worktree "
        "init rev-parse config apply ls-files describe bisect clean",
        "gh": "pr issue run repo api release workflow auth",
        "npm": "test run install ci build start exec ls init publish audit uninstall update",
        "pnpm": "test run install add build dev exec lint",
        "yarn": "test run install add build dev lint",
        "bun": "test run install add build x",
        "npx": "tsc jest vitest eslint prettier playwright next vite tsx ts-node",
        "cargo": "build test run check clippy fmt add bench doc new install update tree",
        "go": "test build run mod vet fmt get generate install list",
        "uv": "run sync add pip lock venv tool remove",
        "pip": "install list show uninstall freeze",
        "pip3": "install list show uninstall freeze",
        "poetry": "install run add lock show build",
        "conda": "create activate install env info list run deactivate",
        "docker": "build run ps compose exec images logs pull push stop rm",
        "kubectl": "get apply describe logs delete exec rollout",
        "mvn": "test package install clean compile verify",
        "gradle": "test build assemble clean check run",
        "gradlew": "test build assemble clean check run",
        "dotnet": "build test run restore",
        "make": "",
        "cmake": "",
        "pytest": "",
        "tox": "",
        "nox": "",
        "ruff": "check format",
        "mypy": "",
        "black": "",
        "isort": "",
        "flake8": "",
        "pyright": "",
        "tsc": "",
        "eslint": "",
        "prettier": "",
        "jest": "",
        "vitest": "",
        "node": "",
        "deno": "run test task",
        "rustc": "",
        "gcc": "",
        "g++": "",
        "clang": "",
        "javac": "",
        "java": "",
        "ls": "",
        "cat": "",
        "head": "",
        "tail": "",
        "wc": "",
        "grep": "",
        "rg": "",
        "find": "",
        "fd": "",
        "sed": "",
        "awk": "",
        "sort": "",
        "uniq": "",
        "cut": "",
        "diff": "",
        "tree": "",
        "echo": "",
        "printf": "",
        "pwd": "",
        "mkdir": "",
        "rm": "",
        "cp": "",
        "mv": "",
        "touch": "",
        "chmod": "",
        "ln": "",
        "which": "",
        "curl": "",
        "wget": "",
        "tar": "",
        "unzip": "",
        "zip": "",
        "jq": "",
        "ps": "",
        "kill": "",
        "sleep": "",
        "date": "",
        "du": "",
        "df": "",
        "env": "",
        "xargs": "",
        "stat": "",
        "file": "",
        "sha256sum": "",
        "md5sum": "",
        "brew": "install list info upgrade",
        "apt": "install list show update",
        "apt-get": "install update",
        "sqlite3": "",
        "psql": "",
        "ssh": "",
        "scp": "",
        "rsync": "",
        "open": "",
        "code": "",
    }.items()
}
PYTHONS = frozenset({"python", "python3", "python3.10", "python3.11", "python3.12", "python3.13"})
PYTHON_MODULES = frozenset(
    {
        "pytest", "pip", "venv", "unittest", "mypy", "black", "ruff", "http.server", "json.tool",
        "build", "twine", "coverage", "isort", "flake8", "pylint", "doctest", "timeit", "cProfile",
    }
)  # fmt: skip
SHELLS = frozenset({"bash", "sh", "zsh", "dash"})
# Prefixes that say how a command runs, not what it does.
WRAPPERS = frozenset({"sudo", "time", "nohup", "exec", "command", "builtin", "nice"})
# Setup steps skipped when a command is a chain (`cd repo && pytest -x`).
SETUP = frozenset({"cd", "export", "source", ".", "set", "unset", "pushd", "popd", "true", ":"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# A token made only of these separates commands (&&, ||, ;, |, &, a newline, parentheses).
_PUNCTUATION = frozenset("&|;\n()")
SEGMENT_WORDS = 12
MAX_CHARS = 512
_QUOTING = re.compile(r"[\"'\\]")
_PLAIN_TOKEN = re.compile(r"[;|&()\n]+|[<>]+|[^\s;|&()<>]+")
# Where shlex (posix, with the lexer settings of _signature_of_line) stops splitting plainly:
# a quote, an escape or a comment. Before it, its tokens are runs of punctuation characters
# and runs of anything but its whitespace and punctuation.
_LEXER_SPECIAL = re.compile(r"[\"'\\#]")
_LEXER_PUNCTUATION = "();<>|&\n"
_LEXER_TOKEN = re.compile(r"[();<>|&\n]+|[^ \t\r();<>|&\n]+")


def is_shell_tool(tool_name: str | None) -> bool:
    return tool_name is not None and tool_name.lower() in SHELL_TOOLS


def command_signature(tool_name: str | None, input_json: str | None) -> str | None:
    """Signature of a shell tool call; None for tools that are not shells."""
    if not is_shell_tool(tool_name):
        return None
    return shell_signature(input_json)


def shell_signature(input_json: str | None) -> str:
    """command_signature of a call already known to be a shell tool's, from its input."""
    command = _command_from_input(input_json)
    if command is None:
        return OTHER
    if type(command) is str:  # the common case: straight to the (cached) line
        return _signature_of_line(command[:MAX_CHARS], 0)
    return signature_of_command(command)


# (isinstance with a tuple: a `str | list` union is checked more slowly, per input)
_STR_OR_LIST = (str, list)


def _command_from_input(input_json: str | None) -> str | list | None:
    if not input_json:
        return None
    try:
        payload = orjson.loads(input_json)
    except orjson.JSONDecodeError:
        # Codex custom tools may pass the raw command string instead of JSON.
        return input_json
    if isinstance(payload, _STR_OR_LIST):
        return payload
    if not isinstance(payload, dict):
        return None
    action = payload.get("action")
    if isinstance(action, dict):  # local_shell_call: {"action": {"command": [...]}}
        payload = action
    for key in ("command", "cmd"):
        value = payload.get(key)
        if isinstance(value, _STR_OR_LIST):
            return value
    return None


def signature_of_command(command: str | list, depth: int = 0) -> str:
    if depth > 3:
        return OTHER
    if isinstance(command, list):
        if not all(isinstance(a, str) for a in command):
            return OTHER
        argv = command
        # ["bash", "-lc", "git status"]: the real command is the script.
        if (
            len(argv) >= 3
            and os.path.basename(argv[0]) in SHELLS
            and argv[1] in ("-c", "-lc", "-ic")
        ):
            return signature_of_command(argv[2], depth + 1)
        return _signature_of_argv(argv)
    # Newlines separate commands too; a bare "\n" token marks them.
    return _signature_of_line(command[:MAX_CHARS], depth)


@functools.lru_cache(maxsize=65_536)
def _signature_of_line(line: str, depth: int) -> str:
    """Signature of a shell line (cached: agents repeat `git status` and `npm test` a lot)."""
    if _QUOTING.search(line):
        decided = _decided_before_quoting(line, depth)
        return decided if decided is not None else _lexed_signature(line, depth)
    # no quotes: shlex's answer, 20x faster
    return _signature_of_tokens(iter(_PLAIN_TOKEN.findall(line)), depth)


def _lexed_signature(line: str, depth: int) -> str:
    """Signature of a line with quotes or escapes, from shlex's tokens."""
    # The first words decide the signature, so the line was cut to MAX_CHARS; a quote
    # left open by the cut, or by the agent, ends the lexing where it starts.
    lexer = shlex.shlex(line, posix=True, punctuation_chars="();<>|&\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    return _signature_of_tokens(_tokens(lexer), depth)


def _signature_of_tokens(tokens, depth: int) -> str:
    for segment in _segments(tokens):
        words = _strip_prefixes(segment)
        if not words or os.path.basename(words[0]) in SETUP:
            continue
        if os.path.basename(words[0]) in SHELLS and len(words) >= 3 and words[1] in ("-c", "-lc"):
            return signature_of_command(words[2], depth + 1)
        return _signature_of_argv(words)
    return OTHER


def _decided_before_quoting(line: str, depth: int) -> str | None:
    """The signature shlex's tokens would give, if the plain words before the first quote,
    escape or comment already decide it (`git commit -m "..."`, `grep "x" f`); else None.

    Same answer as the lexer, several times faster: before that character shlex splits
    exactly like _LEXER_TOKEN, and the signature needs only the first words of the first
    real command. Anything that could depend on what follows (a word glued to the quote, a
    command still missing its subcommand, a setup step whose end is not seen) is undecided.
    """
    prefix = line[: _LEXER_SPECIAL.search(line).start()]
    tokens = _LEXER_TOKEN.findall(prefix)
    if tokens and prefix[-1] not in " \t\r" + _LEXER_PUNCTUATION:
        tokens.pop()  # glued to the quote: the word goes on
    current: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if _is_separator(token):
            if current:
                decided = _decided(current, True, depth)
                if decided != _SKIP:
                    return decided
            current = []
        else:
            current.append(token)
            if len(current) == SEGMENT_WORDS:
                decided = _decided(current, True, depth)
                if decided != _SKIP:
                    return decided
                current = []
                while i < len(tokens) and not _is_separator(tokens[i]):
                    i += 1
                if i == len(tokens):
                    return None  # the skipped command goes on past the quote
                i += 1
    return _decided(current, False, depth) if current else None


_SKIP = ""  # a setup step: the signature comes from a later command


def _decided(segment: list[str], closed: bool, depth: int) -> str | None:
    """_signature_of_line's answer for one command; `closed`: all its words are known,
    else more may follow (None when they could change the answer)."""
    words = _strip_prefixes(segment)
    if not closed and (not words or words == ["timeout"]):
        return None
    if not words or os.path.basename(words[0]) in SETUP:
        return _SKIP if closed else None
    if os.path.basename(words[0]) in SHELLS:
        if len(words) >= 3 and words[1] in ("-c", "-lc"):
            return signature_of_command(words[2], depth + 1)
        if not closed and (len(words) == 1 or (len(words) == 2 and words[1] in ("-c", "-lc"))):
            return None
    if closed:
        return _signature_of_argv(words)
    program, rest = os.path.basename(words[0]), words[1:]
    if program in PYTHONS:
        if len(rest) >= 2 or (len(rest) == 1 and rest[0] != "-m"):
            return _signature_of_argv(words)
        return None
    allowed = PROGRAMS.get(program)
    if allowed and next((w for w in rest if not w.startswith("-")), None) is None:
        return None  # the subcommand is still to come
    return _signature_of_argv(words)


def _is_separator(token: str) -> bool:
    """A token made only of _PUNCTUATION (or empty) separates commands; its first character
    is tested before building its character set (most tokens are words)."""
    return not token or (token[0] in _PUNCTUATION and set(token) <= _PUNCTUATION)


def _tokens(lexer):
    try:
        yield from lexer
    except ValueError:  # an open quote: what came before it still counts
        return


def _segments(tokens):
    """Commands of a shell line, lazily (the caller stops at the first real command); a
    command is cut after SEGMENT_WORDS words, more than any signature needs."""
    current: list[str] = []
    for token in tokens:
        if _is_separator(token):
            if current:
                yield current
            current = []
        elif len(current) < SEGMENT_WORDS:
            current.append(token)
            if len(current) == SEGMENT_WORDS:
                yield current
                current = []
                # Skip the rest of this command up to the next separator.
                for rest in tokens:
                    if _is_separator(rest):
                        break
    if current:
        yield current


def _strip_prefixes(words: list[str]) -> list[str]:
    i = 0
    while i < len(words):
        word = words[i]
        if _ASSIGNMENT.match(word) or word in WRAPPERS:
            i += 1
        elif word == "timeout" and i + 1 < len(words):
            i += 2  # timeout 60 pytest
        elif word == "env":
            i += 1
        else:
            break
    return words[i:]


def _signature_of_argv(argv: list[str]) -> str:
    if not argv:
        return OTHER
    program = os.path.basename(argv[0])
    rest = argv[1:]
    if program in PYTHONS:
        if len(rest) >= 2 and rest[0] == "-m" and rest[1] in PYTHON_MODULES:
            return f"python -m {rest[1]}"
        return "python"
    allowed = PROGRAMS.get(program)
    if allowed is None:
        return OTHER
    if allowed:
        # The first non-option word is the subcommand; anything not allow-listed (a script
        # name, a path, an option's value) falls back to the bare program.
        subcommand = next((w for w in rest if not w.startswith("-")), None)
        if subcommand in allowed:
            return f"{program} {subcommand}"
    return program
