"""The user's files and terminal (textrnn/files.py, through `textrnn classify`): an output never replaces
an input or an existing file unasked, a write is atomic and leaves no temporary file, control characters
are printed escaped, and inputs are read as users mean them (one text per line, CSV fields of any length,
malformed records named by line)."""

import csv
import json
import os
from pathlib import Path

import pytest

import textrnn
from textrnn.cli.classify import main as classify_main
from textrnn.files import printable, read_texts, write_rows

CONTENT = "id,text\n1,The striker scored a late goal.\n2,The chef baked fresh bread.\n"


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "s.csv"
    path.write_text(CONTENT, encoding="utf-8")
    return path


def classify(ckpt: Path, *args: str) -> int:
    return classify_main(["--ckpt_path", str(ckpt), *args])


def only_files(folder: Path) -> list[str]:
    """Every entry of ``folder``, hidden ones (temporary files) included."""
    return sorted(os.listdir(folder))


# ---- outputs never harm the user's files -------------------------------------------------------------


@pytest.mark.parametrize("alias", ["same", "dot", "symlink", "hardlink"])
def test_an_output_that_is_the_input_is_refused_and_the_input_kept(alias, tiny_run, source, capsys, monkeypatch):
    monkeypatch.chdir(source.parent)
    output = {"same": str(source), "dot": "./s.csv", "symlink": "link.csv", "hardlink": "hard.csv"}[alias]
    if alias == "symlink":
        os.symlink(source, "link.csv")
    elif alias == "hardlink":
        os.link(source, "hard.csv")
    before = source.read_bytes()
    assert classify(tiny_run.ckpt, "--input", "s.csv", "--output", output, "--overwrite") == 2
    assert f"output '{output}' is the input file 's.csv'" in capsys.readouterr().err
    assert source.read_bytes() == before
    assert Path(output).read_bytes() == before  # the link, too, still reaches the untouched input


def test_the_checkpoint_is_protected_too(tiny_run, tmp_path, capsys):
    ckpt = tmp_path / "model.csv"  # an odd name, but a file the run reads
    ckpt.write_bytes(tiny_run.ckpt.read_bytes())
    assert classify(ckpt, "--text", "goal", "--output", str(ckpt), "--overwrite") == 2
    assert "is the input file" in capsys.readouterr().err
    assert ckpt.read_bytes() == tiny_run.ckpt.read_bytes()


def test_an_existing_output_is_replaced_only_with_overwrite(tiny_run, source, tmp_path, capsys):
    out = tmp_path / "out.csv"
    out.write_text("keep me\n")
    assert classify(tiny_run.ckpt, "--input", str(source), "--output", str(out)) == 2
    assert "already exists; pass --overwrite to replace it" in capsys.readouterr().err
    assert out.read_text() == "keep me\n"
    assert classify(tiny_run.ckpt, "--input", str(source), "--output", str(out), "--overwrite") == 0
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["text"] for row in rows] == ["The striker scored a late goal.", "The chef baked fresh bread."]
    assert only_files(tmp_path) == ["out.csv", "s.csv"]  # no temporary file left behind


def test_an_output_under_a_file_or_at_a_folder_is_refused_before_loading(source, tmp_path, capsys):
    missing = tmp_path / "no.ckpt"  # never reached: the output is checked first
    assert classify(missing, "--input", str(source), "--output", str(source / "x.csv")) == 2
    assert f"cannot write output '{source / 'x.csv'}': '{source}' is not a folder" in capsys.readouterr().err
    assert classify(missing, "--input", str(source), "--output", str(tmp_path)) == 2
    assert "cannot tell the format of output" in capsys.readouterr().err
    (tmp_path / "d.csv").mkdir()
    assert classify(missing, "--input", str(source), "--output", str(tmp_path / "d.csv")) == 2
    assert "is a folder; give a file path" in capsys.readouterr().err


def test_a_crash_mid_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")

    def rows():
        yield {"a": 1}
        raise KeyboardInterrupt  # Ctrl-C halfway through: not even an Exception

    with pytest.raises(KeyboardInterrupt):
        write_rows(rows(), out, ["a"], overwrite=True)
    assert out.read_text() == "old\n"
    assert only_files(tmp_path) == ["out.jsonl"]


def test_a_crash_inside_classify_leaves_the_old_output(tiny_run, source, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out.csv"
    out.write_text("old\n")

    def fail_halfway(self, rows):
        rows = iter(rows)
        self.writerow(next(rows))  # part of the new file is written ...
        raise OSError("No space left on device")  # ... then the disk fills up

    monkeypatch.setattr(csv.DictWriter, "writerows", fail_halfway)
    assert classify(tiny_run.ckpt, "--input", str(source), "--output", str(out), "--overwrite") == 2
    assert "No space left on device" in capsys.readouterr().err
    assert out.read_text() == "old\n"
    assert only_files(tmp_path) == ["out.csv", "s.csv"]


def test_new_files_follow_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        write_rows([{"a": 1}], tmp_path / "new.csv", ["a"])
    finally:
        os.umask(previous)
    assert (tmp_path / "new.csv").stat().st_mode & 0o777 == 0o640  # not mkstemp's 0600


# ---- the terminal ------------------------------------------------------------------------------------


def test_printable_escapes_what_could_drive_a_terminal():
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("\x9b31m \x7f \x07 \t\n") == "\\x9b31m \\x7f \\x07 \\x09\\x0a"
    assert printable("abc\u202edef \u2066x\u2069 \u2028 \ud800") == "abc\\u202edef \\u2066x\\u2069 \\u2028 \\ud800"
    for fine in ("体育 news", "café", "👩\u200d💻", "a\\x1b"):  # CJK, accents, an emoji ZWJ sequence, a backslash
        assert printable(fine) == fine


def test_control_characters_in_texts_and_label_names_print_escaped(tiny_run, tmp_path, capsys):
    import torch

    checkpoint = torch.load(tiny_run.ckpt, weights_only=True)
    names = checkpoint["textrnn"]["label_names"]
    checkpoint["textrnn"]["label_names"] = [f"\x1b]0;{name}\x07" for name in names]  # sets the title
    torch.save(checkpoint, tmp_path / "odd.ckpt")
    text = "\x1b[2J\x1bc goal :smile: \u202eevil"  # clear screen, reset terminal, an emoji code, reversed text
    assert classify(tmp_path / "odd.ckpt", "--text", text) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b[2J\\x1bc goal :smile: \\u202eevil" in out
    assert all(f"\\x1b]0;{name}\\x07" in out for name in names)

    (tmp_path / "in.txt").write_text(f"{text}\nfood\n", encoding="utf-8")
    assert classify(tmp_path / "odd.ckpt", "--input", str(tmp_path / "in.txt")) == 0  # the table of many texts
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[2J" in out


def test_file_names_in_messages_print_escaped(tiny_run, source, tmp_path, capsys):
    out = tmp_path / "o\x1b[2J.csv"
    assert classify(tiny_run.ckpt, "--input", str(source), "--output", str(out)) == 0
    assert "Wrote 2 predictions to" in (printed := capsys.readouterr().out) and "o\\x1b[2J.csv" in printed
    assert "\x1b" not in printed
    assert classify(tiny_run.ckpt, "--input", str(tmp_path / "\x1b]0;x\x07.txt")) == 2
    err = capsys.readouterr().err
    assert "no input file" in err and "\x1b" not in err and "\x07" not in err


# ---- inputs read as users mean them --------------------------------------------------------------


def test_only_newlines_split_a_txt_file(tiny_run, tmp_path, capsys):
    lines = ["goal\fmatch\x1cteam\x1dcup\x1eplayer", "bread\x85cheese\u2028soup\u2029pie\x0bherbs", "", "chip\rcloud"]
    path = tmp_path / "in.txt"
    path.write_bytes(("\r\n".join(lines[:2]) + "\n" + "\n".join(lines[2:]) + "\n").encode("utf-8"))
    assert read_texts(path) == lines
    out = tmp_path / "out.jsonl"
    assert classify(tiny_run.ckpt, "--input", str(path), "--output", str(out)) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").split("\n")[:-1]]
    assert [row["text"] for row in rows] == lines  # exactly one prediction per \n line
    expected = textrnn.load(tiny_run.ckpt, device="cpu").predict(lines)
    assert [row["label"] for row in rows] == [p.label for p in expected]


def test_a_txt_file_without_a_final_newline_and_with_a_bom(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes("\ufeffone\ntwo".encode("utf-8"))
    assert read_texts(path) == ["one", "two"]
    path.write_bytes(b"")
    assert read_texts(path) == []


def test_a_csv_field_of_200000_characters_is_read(tiny_run, tmp_path):
    long_text = "goal " * 40_000  # 200,000 characters, beyond csv's default limit of 131,072
    path = tmp_path / "long.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["text"], [long_text], ["bread"]])
    assert read_texts(path) == [long_text, "bread"]
    assert csv.field_size_limit() == 131_072  # the process-wide limit is left as it was
    out = tmp_path / "out.csv"
    assert classify(tiny_run.ckpt, "--input", str(path), "--output", str(out)) == 0
    assert [len(text) for text in read_texts(out)] == [200_000, 5]  # written whole, readable again


@pytest.mark.parametrize("body, line", [
    ('text,label\na,b\n"open quote,c\nd,e\nf,g\n', 3),  # never closed: would swallow every later row
    ('text,label\na,b\n"quoted, then "more,c\nd,e\n', 3),  # a stray quote after a closing one
])
def test_a_malformed_csv_is_an_error_naming_the_line(body, line, tiny_run, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=f"bad.csv:{line}: malformed CSV record starting on line {line}"):
        read_texts(path)
    assert classify(tiny_run.ckpt, "--input", str(path), "--output", str(tmp_path / "o.csv")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"bad.csv:{line}: malformed CSV record" in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("name, content, message", [
    ("bad.csv", 'text,label\n"multi\nline",b\none, two, three,c\n', r"bad.csv:4: 4 fields where the header has 2"),
    ("bad.csv", "", r"has no column 'text'; columns found: \[\]"),
    ("bad.jsonl", '{"text": "a"}\n\n{"text": "b",}\n', r"bad.jsonl:3 is not a JSON object"),
    ("bad.jsonl", '{"text": "a"}\n{"text": 3}\n', r"bad.jsonl:2: the text is a int \(3\), not a string"),
    ("bad.jsonl", '{"text": "a"}\n["b"]\n', r"bad.jsonl:2 has no field 'text'; fields found: list"),
])
def test_bad_rows_are_named_by_their_line(name, content, message, tmp_path):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_texts(path)
