"""What a user hands over, read safely (io/textfiles.py): each refusal names the file, the line
and the column where there is one, and says what was expected, word for word."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forecast.errors import InputError
from forecast.io.textfiles import MAX_INPUT_ENV, MB, csv_rows, decode_text, header_names, read_input

SPREADSHEET = "save it as UTF-8 (in a spreadsheet: 'CSV UTF-8')"
# A limit of exactly 100 bytes (25 / 2**18 MB is a binary fraction, so limit * MB is exact).
HUNDRED_BYTES = "9.5367431640625e-05"


def _refusal(call, *args) -> str:
    with pytest.raises(InputError) as refused:
        call(*args)
    return str(refused.value)


def test_a_missing_file_a_folder_and_a_pipe_are_named_for_what_they_are(tmp_path):
    missing, folder, pipe = tmp_path / "missing.csv", tmp_path / "logs", tmp_path / "pipe.csv"
    folder.mkdir()
    os.mkfifo(pipe)
    assert _refusal(read_input, missing, "an events file") == f"{missing}: file not found"
    assert _refusal(read_input, folder, "a crowd file") == f"{folder}: is a folder, expected a crowd file"
    assert _refusal(read_input, pipe, "an events file") == (
        f"{pipe}: is a named pipe (FIFO), not a regular file; expected an events file "
        "(a device or a pipe may never end, so it is not read)")


def test_a_file_at_the_limit_is_read_whole_and_one_byte_more_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_INPUT_ENV, HUNDRED_BYTES)
    at_limit, over = tmp_path / "at.csv", tmp_path / "over.csv"
    at_limit.write_bytes(b"x" * 100)
    over.write_bytes(b"x" * 101)
    assert read_input(at_limit, "an events file") == b"x" * 100
    assert _refusal(read_input, over, "an events file") == (
        f"{over}: is 0.1 KB, over the 9.53674e-05 MB limit for an events file ({MAX_INPUT_ENV} sets another); "
        "is it the right file? A long log can be given to update in several files")
    assert _refusal(read_input, over, "a crowd file") == (
        f"{over}: is 0.1 KB, over the 9.53674e-05 MB limit for a crowd file ({MAX_INPUT_ENV} sets another); "
        "is it the right file?")


def test_a_priors_file_has_a_fixed_limit_of_one_mb(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_INPUT_ENV, "500")  # the setting is for events and crowd files only
    priors = tmp_path / "factors.yaml"
    priors.write_bytes(b"#" * (MB + 1))
    assert _refusal(read_input, priors, "a priors file") == (
        f"{priors}: is 1.0 MB, over the 1 MB limit for a priors file; is it the right file?")


@pytest.mark.parametrize("setting", ["abc", "0", "-1", "inf", "nan"])
def test_a_limit_that_is_not_a_positive_size_is_refused(tmp_path, monkeypatch, setting):
    monkeypatch.setenv(MAX_INPUT_ENV, setting)
    log = tmp_path / "e.csv"
    log.write_text("event_id\n")
    assert _refusal(read_input, log, "an events file") == f"{MAX_INPUT_ENV}={setting!r}: expected a size in MB greater than 0"


@pytest.mark.parametrize(("raw", "name"), [
    ("event_id,date".encode("utf-32"), "UTF-32"),  # little-endian, with its mark
    (b"\x00\x00\xfe\xff" + "event_id,date".encode("utf-32-be"), "UTF-32"),
    ("event_id,date".encode("utf-16"), "UTF-16"),
    (b"\xfe\xff" + "дата".encode("utf-16-be"), "UTF-16"),  # no zero byte: only the mark tells
    ("дата".encode("utf-16"), "UTF-16"),  # little-endian, no zero byte either
    (b"a\x00b\x00", "UTF-16"),  # no mark, every other byte zero: four bytes are enough to tell
    (b"ab\x00cd\x00", "UTF-16"),  # a third of the bytes zero
    (b"ab\x00cd\x00e", "UTF-16"),
])
def test_utf16_and_utf32_are_named_not_guessed_at(tmp_path, raw, name):
    path = tmp_path / "e.csv"
    assert _refusal(decode_text, path, raw) == f"{path}, line 1: is {name} text, not UTF-8; {SPREADSHEET}"


@pytest.mark.parametrize("raw", [b"a\x00b", b"ab\x00cd\x00efg"])
def test_a_stray_zero_byte_is_not_taken_for_utf16(tmp_path, raw):
    assert decode_text(tmp_path / "e.csv", raw) == raw.decode()


def test_utf8_with_or_without_its_mark_is_read(tmp_path):
    assert decode_text(tmp_path / "e.csv", "\ufeffevent_id,дата\n".encode()) == "event_id,дата\n"


@pytest.mark.parametrize(("raw", "line", "column"), [
    (b"a,b\nxy\xffz\n", 2, 3),
    (b"a,b\n1,2\nxyz,\xff\n", 3, 5),  # the last line break before it, not the first
    (b"\nab\xff\n", 2, 3),  # a line break at the very first byte
    (b"\xff", 1, 1),
])
def test_bytes_that_are_not_utf8_are_pointed_at(tmp_path, raw, line, column):
    path = tmp_path / "e.csv"
    assert _refusal(decode_text, path, raw) == (
        f"{path}, line {line}, column {column}: not UTF-8 text (byte 0xff at byte {column} of the line); "
        "save the file as UTF-8")


@pytest.mark.parametrize(("text", "separator", "kind"), [
    ("event_id\tdate\n1\t2\n", "tabs", "tab"),
    ("event_id;date\n1;2\n", "semicolons", "semicolon"),
    ("\ufeffevent_id\tdate\nx,y\n", "tabs", "tab"),  # a comma further down does not make it CSV
])
def test_tab_and_semicolon_separated_files_are_named(tmp_path, text, separator, kind):
    path = tmp_path / "e.csv"
    assert _refusal(csv_rows, path, text) == (
        f"{path}, line 1: separated by {separator}, not commas (a {kind}-separated file); "
        "save it as comma-separated CSV")


def test_rows_come_with_the_line_they_start_on(tmp_path):
    text = 'event_id,description\tnote\n1,"two\nlines"\n2,plain\n'  # a tab inside a comma-separated header is text
    header, rows = csv_rows(tmp_path / "e.csv", text)
    assert header == ["event_id", "description\tnote"]
    assert list(rows) == [(2, ["1", "two\nlines"]), (4, ["2", "plain"])]


def test_an_empty_file_has_an_empty_header_and_no_rows(tmp_path):
    header, rows = csv_rows(tmp_path / "e.csv", "")
    assert header == [] and list(rows) == []


def test_an_unclosed_quote_in_the_header_is_pointed_at(tmp_path):
    path = tmp_path / "e.csv"
    assert _refusal(lambda: list(csv_rows(path, '"event_id,date\n1,2\n')[1])) == (
        f'{path}, line 1, column 1: a quoted field opens here (") and is never closed, so every row after it '
        'would be read as its text; close the quote, or write a quote inside a field as two ("")')


def test_a_doubled_quote_does_not_close_a_field(tmp_path):
    path = tmp_path / "e.csv"
    text = 'event_id,description\n1,ok\n2,"he said ""no"" and\n3,more\n'
    assert _refusal(lambda: list(csv_rows(path, text)[1])) == (
        f"{path}, line 3, column 2 ('description'): a quoted field opens here (\") and is never closed, so every "
        'row after it would be read as its text; close the quote, or write a quote inside a field as two ("")')


def test_header_names_match_known_columns_whatever_their_case(tmp_path):
    path = tmp_path / "e.csv"
    assert header_names(path, [" Event_ID ", "REPORTED", "extra"], ("event_id", "reported")) == ["event_id", "reported", "extra"]
    assert _refusal(header_names, path, ["event_id", "", "date"], ("event_id", "date")) == (
        f"{path}, line 1, column 2: empty column name in the header")
    assert _refusal(header_names, path, ["date", "event_id", " Date"], ("event_id", "date")) == (
        f"{path}, line 1, column 3: column 'Date' appears twice in the header (also column 1)")


class _Unreadable(type(Path())):
    """A path whose stat (or, with `at_open`, whose opening) fails as a file without read
    permission would for a user who is not root (tests may run as root, who can read anything)."""

    at_open = False

    def stat(self, *args, **kwargs):
        if not self.at_open:
            raise PermissionError(13, "Permission denied", str(self))
        return super().stat(*args, **kwargs)

    def open(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))


class _UnreadableAtOpen(_Unreadable):
    at_open = True


@pytest.mark.parametrize("kind", [_Unreadable, _UnreadableAtOpen])
def test_a_file_that_cannot_be_read_says_why(tmp_path, kind):
    (tmp_path / "e.csv").write_text("event_id\n")
    path = kind(tmp_path / "e.csv")
    assert _refusal(read_input, path, "an events file") == f"{path}: cannot be read (Permission denied)"


def test_a_windows_file_keeps_the_line_breaks_inside_a_quoted_field(tmp_path):
    """Rows end at CRLF; a quoted description that spans lines keeps its own CRLF, so the
    event's content (and its hash in the ledger) is what the file holds."""
    text = 'event_id,description\r\n1,"two\r\nlines"\r\n2,plain\r\n'
    header, rows = csv_rows(tmp_path / "e.csv", text)
    assert header == ["event_id", "description"]
    assert list(rows) == [(2, ["1", "two\r\nlines"]), (4, ["2", "plain"])]
