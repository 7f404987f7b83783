"""Secrets out of anything we show: command lines, log text, REST answers.

A process's command line is the user's business, but it ends up in places the user does not
control: the idle decision log (stdout, shipped to CloudWatch), ``GET smstudio/idle`` and the CLI.
``python load.py --db-password=hunter2`` must be shown as ``python load.py --db-password=***``.

Pure functions, no I/O, shared by every place that shows a command line or free text:

* ``redact_argv(argv)``: the program and its arguments with secret values replaced;
* ``redact_text(text)``: the same rules on free text (a shell command string, a log line);
* ``format_command(argv, limit)``: the redacted command line for humans (control characters
  escaped), cut to ``limit``;
* ``printable(text)``: control characters escaped.

What counts as secret (case-insensitive), in every form we could recognise:

* the value of an option whose name says secret (``--db-password=x``, ``--token x``,
  ``-Djavax.net.ssl.keyStorePassword=x``, ``--api-key "a b"``);
* ``NAME=value`` pairs with such a name (``AWS_SECRET_ACCESS_KEY=...``, ``PGPASSWORD=...``);
* credentials in URLs (``https://user:pass@host``, ``https://<token>@github.com``) and secret
  query parameters (``?X-Amz-Signature=...&token=...``);
* ``Authorization: Bearer ...``-style headers and ``'X-Amz-Security-Token': b'...'`` in dict
  reprs, ``x-amz-security-token:...`` in a canonical request, the ``Signature:`` line and
  ``<SecretAccessKey>...</SecretAccessKey>`` in a response body (botocore's debug log, which
  ``smstudio -v`` shows: every log handler we install filters records through
  :class:`RedactFilter`).

Over-redaction is accepted (``--keyboard-layout us`` loses ``us``); a leak is not. Short
options (``-p hunter2``, ``mysql -phunter2``) cannot be told from others and are not redacted.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence

MASK = "***"

# A name "says secret" when it contains one of these (so "--db-password", "PGPASSWORD",
# "aws_secret_access_key", "X-Amz-Security-Token", "--ssh-key-file" all do).
SECRET_WORDS = (
    "pass",
    "pwd",
    "token",
    "secret",
    "key",
    "credential",
    "auth",
    "cookie",
    "session",
    "signature",
    "private",
)
_SECRET_NAME = re.compile("|".join(SECRET_WORDS), re.IGNORECASE)

# a value: a quoted string or a run of non-blank characters
_VALUE = r"""(?:"[^"]*"|'[^']*'|[^\s"',;&]+)"""

# --name=value, -name=value, -Dname=value, NAME=value (the name must say secret)
_PAIR = re.compile(r"""(?P<name>(?<![\w./:-])-{0,2}[A-Za-z_][\w.\-]*)=(?P<value>""" + _VALUE + ")")
# --name value (two dashes; the value does not start with a dash)
_OPTION_SPACE = re.compile(
    r"""(?P<name>(?<![\w-])--[A-Za-z][\w.\-]*)(?P<sep>\s+)(?P<value>(?!-)""" + _VALUE + ")"
)
# scheme://user:password@host and http(s)://token@host
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]*):(?P<pw>[^\s/@]+)@")
_URL_TOKEN = re.compile(r"(?P<head>\bhttps?://)(?P<user>[^\s/:@]+)@", re.IGNORECASE)
# ?name=value / &name=value in URLs
_QUERY = re.compile(r"(?P<head>[?&;](?P<name>[\w.\-]+)=)(?P<value>[^\s&;#\"']+)")
# Authorization: Bearer xyz / X-Amz-Security-Token: xyz (header lines); botocore's debug log
# writes "Signature:" and the value on the next line
_HEADER = re.compile(
    r"(?P<head>\b(?P<name>(?:proxy-)?authorization|x-amz-security-token|x-api-key|cookie|"
    r"set-cookie|signature)\s*:\s*)(?P<value>[^\r\n]+)",
    re.IGNORECASE,
)
# <SecretAccessKey>x</SecretAccessKey> (XML answers: STS AssumeRole, GetSessionToken)
_XML_ELEMENT = re.compile(
    r"(?P<open><(?P<name>[A-Za-z][\w.\-]{0,80})>)(?P<value>[^<]+)(?=</(?P=name)>)"
)
# 'name': 'value' / "name": b"value" (dict reprs, JSON)
_QUOTED_KEY = re.compile(
    r"""(?P<head>(?P<q>["'])(?P<name>[^"'\n]{1,80})(?P=q)\s*:\s*b?)(?P<value>"[^"]*"|'[^']*')"""
)


# newlines, escapes and other control characters: shown escaped, never interpreted by a
# terminal that prints the reason (`smstudio idle status`)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escape(m: re.Match[str]) -> str:
    char = m.group(0)
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char, f"\\x{ord(char):02x}")


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``): safe to print on a
    terminal or in a one-line log (a file name can hold an escape sequence)."""
    return _CONTROL.sub(_escape, text)


def says_secret(name: str) -> bool:
    """Whether an option, variable or key name suggests its value is a secret."""
    return bool(_SECRET_NAME.search(name))


def _masked_value(value: str) -> str:
    """Keep the quotes a value had (the text stays readable), drop what was inside."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[0] + MASK + value[0]
    return MASK


def redact_text(text: str) -> str:
    """Free text with every recognisable secret replaced by ``***``."""
    if not text:
        return text

    def pair(m: re.Match[str]) -> str:
        if not says_secret(m.group("name").lstrip("-").removeprefix("D")):
            return m.group(0)
        return f"{m.group('name')}={_masked_value(m.group('value'))}"

    def option(m: re.Match[str]) -> str:
        if not says_secret(m.group("name")) or m.group("value") == MASK:
            return m.group(0)
        return f"{m.group('name')}{m.group('sep')}{_masked_value(m.group('value'))}"

    def query(m: re.Match[str]) -> str:
        return m.group("head") + MASK if says_secret(m.group("name")) else m.group(0)

    def quoted(m: re.Match[str]) -> str:
        if not says_secret(m.group("name")):
            return m.group(0)
        return m.group("head") + _masked_value(m.group("value"))

    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    text = _URL_TOKEN.sub(
        lambda m: m.group(0) if m.group("user") == MASK else f"{m.group('head')}{MASK}@", text
    )
    text = _QUERY.sub(query, text)
    text = _HEADER.sub(lambda m: m.group("head") + MASK, text)
    text = _XML_ELEMENT.sub(
        lambda m: m.group("open") + MASK if says_secret(m.group("name")) else m.group(0), text
    )
    text = _QUOTED_KEY.sub(quoted, text)
    text = _PAIR.sub(pair, text)
    text = _OPTION_SPACE.sub(option, text)
    return text


def redact_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with secret values replaced; the program (``argv[0]``) is kept.

    Structure first (``--password`` followed by its value as the next argument, whatever the
    value looks like), then the text rules on each argument (``sh -c "... --token=x"``).
    """
    out: list[str] = []
    hide_next = False
    for i, arg in enumerate(argv):
        if hide_next:
            hide_next = False
            out.append(MASK)
            continue
        if i > 0 and arg.startswith("-") and "=" in arg:
            name, _, value = arg.partition("=")
            if says_secret(name.lstrip("-").removeprefix("D")):
                # the whole value, commas and all: "--password=a,b" is one secret
                out.append(f"{name}={_masked_value(value)}")
                continue
        if i > 0 and arg.startswith("--") and "=" not in arg and says_secret(arg):
            # "--password" then its value; "--token --verbose" leaves the next option alone
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            hide_next = nxt is not None and not nxt.startswith("--")
            out.append(arg)
            continue
        out.append(redact_text(arg) if i > 0 else _redact_program(arg))
    return out


def _redact_program(program: str) -> str:
    # the program is a path: only URL credentials could hide there
    return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{MASK}@", program)


def format_command(argv: Sequence[str], limit: int = 120) -> str:
    """The redacted command line for humans: the program's name and its arguments, cut to
    ``limit`` characters *after* redaction (a cut never reveals part of a secret)."""
    if not argv:
        return ""
    words = redact_argv(argv)
    words[0] = os.path.basename(words[0]) or words[0]
    text = printable(" ".join(words))
    if limit and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return text


class RedactFilter(logging.Filter):
    """A handler filter that masks secrets in every record it passes: the message with its
    arguments, the exception and the stack text (``smstudio -v`` shows botocore's debug log,
    which holds the session token, the signature and assumed roles' keys).

    Attach it to each handler we install (a logger's filters do not see records propagated
    from child loggers such as ``botocore``). The record is rendered once and its arguments
    dropped, so formatting later cannot bring the secret back.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: show what there is, still masked
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True
