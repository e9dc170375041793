"""Task files as real tools write them (kind a): byte-order marks, encodings, line endings, blank lines, quoting,
and problems reported at the line an editor shows."""

import codecs

import pytest

from dynabert.data import get_task, load_split, load_task, read_split
from dynabert.tabular import read_rows

MRPC = (
    "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\ta\tb\the ran\the jogged\n0\tc\td\tsky\tsea\n"
)


def test_mrpc_with_a_utf8_byte_order_mark(tmp_path):
    """Case 1: the GLUE MRPC TSVs start with a UTF-8 BOM before `Quality`."""
    for stem in ("train", "dev"):
        (tmp_path / f"{stem}.tsv").write_bytes(codecs.BOM_UTF8 + MRPC.encode())
    _, splits = load_task(get_task("mrpc"), tmp_path)
    assert splits["dev"].labels == [1, 0] and splits["train"].texts[0] == ("he ran", "he jogged")


@pytest.mark.parametrize(
    "bom,encoding",
    [
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF8, "utf-8"),
    ],
)
def test_unicode_files_with_a_byte_order_mark(tmp_path, bom, encoding):
    """Excel's "Unicode Text" is UTF-16 LE with a BOM; Notepad writes UTF-8 with a BOM."""
    (tmp_path / "dev.tsv").write_bytes(
        bom + "sentence\tlabel\r\nnaïve café\t1\r\nnot good\t0\r\n".encode(encoding)
    )
    split = read_split(tmp_path / "dev.tsv", get_task("sst2"), ("0", "1"))
    assert split.texts == [("naïve café",), ("not good",)] and split.labels == [1, 0]


def test_latin1_file_read_as_windows_1252_with_a_warning_naming_the_line(tmp_path, capsys):
    (tmp_path / "dev.tsv").write_bytes(
        "sentence\tlabel\nfine\t1\nnaïve café\t1\n".encode("latin-1")
    )
    split = read_split(tmp_path / "dev.tsv", get_task("sst2"), ("0", "1"))
    assert split.texts[1] == ("naïve café",)
    assert "dev.tsv:3: not UTF-8 (byte 0xef)" in capsys.readouterr().err


def test_utf16_without_a_byte_order_mark_is_refused_not_misread(tmp_path):
    (tmp_path / "dev.tsv").write_bytes("sentence\tlabel\nfine\t1\n".encode("utf-16-le"))
    with pytest.raises(ValueError, match="NUL bytes.*re-save it as UTF-8"):
        read_split(tmp_path / "dev.tsv", get_task("sst2"), ("0", "1"))


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"])
def test_line_endings_and_blank_lines(tmp_path, newline):
    """CRLF (Windows), lone CR (old Mac), and blank lines in the middle and at the end are not rows."""
    text = newline.join(["sentence\tlabel", "good\t1", "", "bad\t0", "", "", ""])
    (tmp_path / "dev.tsv").write_bytes(text.encode())
    split = read_split(tmp_path / "dev.tsv", get_task("sst2"), ("0", "1"))
    assert split.texts == [("good",), ("bad",)] and split.labels == [1, 0] and split.skipped == []


def test_problem_rows_named_by_the_line_an_editor_shows(tmp_path):
    """Blank lines and a quoted multi-line CSV field shift later rows; the message names the editor's line."""
    (tmp_path / "dev.tsv").write_bytes(b"sentence\tlabel\r\n\r\ngood\t1\r\n\r\nbad\t7\r\n")
    with pytest.raises(ValueError, match=r"dev.tsv:5: unknown label '7'"):
        read_split(tmp_path / "dev.tsv", get_task("sst2"), ("0", "1"))
    (tmp_path / "dev.csv").write_text(
        'sentence,label\n"one, two\nthree",1\n"four ""quoted""",0\nfive,x\n'
    )
    with pytest.raises(ValueError, match=r"dev.csv:5: unknown label 'x'"):
        read_split(tmp_path / "dev.csv", get_task("sst2"), ("0", "1"))
    rows = read_rows(tmp_path / "dev.csv")
    assert [line for line, _ in rows] == [1, 2, 4, 5]
    assert rows[1][1] == ["one, two\nthree", "1"] and rows[2][1] == ['four "quoted"', "0"]


def test_tsv_quotes_are_text_as_in_glue(tmp_path):
    """GLUE TSVs hold unbalanced quotes (SST-2: `" a rare film`); a .tsv has no quote character."""
    (tmp_path / "dev.tsv").write_text('sentence\tlabel\n" a rare film\t1\nsay "hi"\t0\n')
    split = read_split(tmp_path / "dev.tsv", get_task("sst2"), ("0", "1"))
    assert split.texts == [('" a rare film',), ('say "hi"',)]


def test_stsb_non_finite_score_is_a_malformed_row(tmp_path):
    header = "index\tsentence1\tsentence2\tscore\n"
    (tmp_path / "dev.tsv").write_text(header + "0\ta\tb\t3.2\n1\tc\td\tnan\n")
    with pytest.raises(ValueError, match=r"dev.tsv:3: label 'nan' is not a finite number"):
        read_split(tmp_path / "dev.tsv", get_task("stsb"), None)


def test_evaluation_reads_only_the_scored_split(tmp_path):
    """Case 2: QQP's real train.tsv has rows with too few fields; evaluation never opens it (nor needs it)."""
    qqp = (
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
        "0\t1\t2\thow?\twhy?\t0\n"
        "1\t3\t4\twhat is x?\twhat's x?\t1\n"
    )
    (tmp_path / "dev.tsv").write_text(qqp)
    (tmp_path / "train.tsv").write_text(qqp + "2\t5\tbroken row\n")
    split = load_split(get_task("qqp"), tmp_path, "dev", get_task("qqp").labels)
    assert split.labels == [0, 1]
    (tmp_path / "train.tsv").unlink()
    assert load_split(get_task("qqp"), tmp_path, "dev", get_task("qqp").labels).labels == [0, 1]


def test_a_split_with_only_a_header_is_refused_not_scored(tmp_path, capsys):
    from dynabert.cli import main

    (tmp_path / "dev.tsv").write_text("sentence\tlabel\r\n\r\n")
    assert (
        main(["evaluate", "--checkpoint", "nowhere", "--task", "sst2", "--data-dir", str(tmp_path)])
        == 2
    )
    assert "no model found at 'nowhere'" in capsys.readouterr().err
    from dynabert.presets import load_model, load_tokenizer

    load_model("tiny").save_pretrained(tmp_path / "m")
    load_tokenizer("tiny").save_pretrained(tmp_path / "m")
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(tmp_path / "m"),
                "--task",
                "sst2",
                "--data-dir",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "dev.tsv holds no examples to score" in capsys.readouterr().err
