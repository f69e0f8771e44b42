"""The command line: thin over the API, one clear sentence and a non-zero exit on bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from grammar_rae.cli.main import main
from grammar_rae.grammar import Grammar, Parser


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_parse_prints_sequences(capsys, zinc):
    code, out, _ = run(capsys, "parse", zinc[0], zinc[1])
    assert code == 0
    lines = out.splitlines()
    parser = Parser(Grammar.load("smiles"))
    assert lines[0] == f"{zinc[0]}\t{' '.join(map(str, parser.parse(zinc[0])))}"
    assert len(lines) == 2


def test_parse_json_reports_each_input(capsys):
    code, out, err = run(capsys, "parse", "--grammar", "expr", "--json", "x + 1", "x +", "y")
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert records[0] == {"input": "x + 1", "productions": [0, 3, 7, 8]}
    assert records[1]["input"] == "x +" and "incomplete" in records[1]["error"]
    assert records[2]["input"] == "y" and "Unknown token 'y'" in records[2]["error"]
    assert "2 of 3 inputs" in err


def test_parse_file(capsys, tmp_path, expressions):
    path = tmp_path / "e.txt"
    path.write_text("\n".join(expressions[:20]) + "\n")
    code, out, _ = run(capsys, "parse", "--grammar", "expr", "--file", str(path), "--json")
    assert code == 0
    assert [json.loads(line)["input"] for line in out.splitlines()] == expressions[:20]


def test_parse_with_a_grammar_file(capsys, tmp_path):
    path = tmp_path / "mine.cfg"
    path.write_text(Grammar.load("expr").source_text)
    code, out, _ = run(capsys, "parse", "--grammar", str(path), "x * 2")
    assert code == 0 and out.strip() == "x * 2\t1 3 7 9"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["parse", "--grammar", "nope", "x"], "Unknown grammar 'nope'"),
        (["parse"], "Nothing to parse"),
        (["optimize", "--objective", "expr-fit", "--seeds", "0"], "seeds are numbered from 1"),
        (["optimize", "--objective", "expr-fit", "--seeds", "3-1"], "names no seed"),
        (["optimize", "--objective", "expr-fit", "--initial", "5"], "BO needs at least 10 starting points"),
        (["benchmark", "pmo", "--tasks", "qed,logp"], "Unknown PMO task logp"),
        (["parse", "--file", "/no/such/file.smi"], "Cannot read /no/such/file.smi"),
        (["data", "prepare", "--data", "/no/such.smi"], "No such file or data set"),
        (
            ["data", "prepare", "--grammar", "expr", "--kekule"],
            "The Kekulé form exists for molecules only, not for the expr grammar.",
        ),
        (
            ["train", "--grammar", "expr", "--kekule", "--out", "/tmp/never-made"],
            "The Kekulé form exists for molecules only",
        ),
        (["score", "--objective", "expr-fit", "--grammar", "{bad_cfg}", "x"], "Grammar file lacks the header line(s)"),
        (
            ["train", "--grammar", "smiles", "--conv-filters", "8,8", "--out", "/tmp/never-made"],
            "The conv encoder has 3 convolutions, so it needs 3 filter counts, not 2.",
        ),
    ],
)
def test_user_errors_are_one_sentence(capsys, tmp_path, argv, message):
    (tmp_path / "bad.cfg").write_text("S -> 'x'\n")  # rules without the header
    code, _, err = run(capsys, *[word.replace("{bad_cfg}", str(tmp_path / "bad.cfg")) for word in argv])
    assert code == 1
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sample", "--constraints", "on"], "invalid choice: 'on'"),
        (["sample", "--temperature", "0"], "0 must be a positive finite number"),
        (["sample", "--temperature", "nan"], "nan must be a positive finite number"),
        (["train", "--decoder", "lstm"], "invalid choice: 'lstm'"),
        (["train", "--threads", "0"], "0 must be at least 1"),
        (["sample", "--threads", "-1"], "-1 must be at least 1"),
        (["decode", "--beam", "0"], "0 must be at least 1"),
        (["optimize", "--objective", "expr-fit", "--acquisition", "pi"], "invalid choice: 'pi'"),
        (["optimize", "--objective", "expr-fit", "--density-floor", "1.5"], "1.5 must be a quantile in [0, 1)"),
        (["optimize", "--objective", "expr-fit", "--density-floor", "-0.1"], "-0.1 must be a quantile in [0, 1)"),
        (["optimize", "--objective", "expr-fit", "--threads", "0"], "0 must be at least 1"),
        (["optimize", "--objective", "expr-fit", "--start", "file"], "invalid choice: 'file'"),
        (["benchmark", "pmo", "--budget", "0"], "0 must be at least 1"),
        (["benchmark", "pmo", "--method", "ga"], "invalid choice: 'ga'"),
        (["train", "--conv-filters", "64,0,64"], "0 must be at least 1"),
        (["train", "--conv-filters", "64,x"], "'x' is not a whole number"),
    ],
)
def test_bad_options_are_refused_before_any_work(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and "Traceback" not in err


def test_data_prepare_prints_a_summary(capsys, isolated_cache, tmp_path, zinc):
    path = tmp_path / "m.smi"
    path.write_text("\n".join(zinc[:40] + ["C1CC", "CC(", "Xe"]) + "\n")
    code, out, _ = run(capsys, "data", "prepare", "--grammar", "smiles", "--data", str(path), "--workers", "1")
    assert code == 0
    assert "kept:     40 of 43 lines" in out
    assert "rejected: 3 (1 invalid, 1 not in grammar, 1 unknown token)" in out
    rejects = out.split("rejects:")[1].strip()
    assert rejects.endswith("rejects.tsv")
    assert [line.split("\t")[0] for line in open(rejects).read().splitlines()[1:]] == ["41", "42", "43"]


def test_console_script_has_help_and_clean_errors():
    exe = shutil.which("grammar-rae")
    command = [exe] if exe else [sys.executable, "-m", "grammar_rae.cli.main"]
    help_text = subprocess.run([*command, "--help"], capture_output=True, text=True, check=True).stdout
    for word in ("data", "parse"):
        assert word in help_text
    bad = subprocess.run([*command, "parse", "--grammar", "expr", "x +"], capture_output=True, text=True)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


def test_help_lists_every_command_and_each_module_registers_its_own(capsys):
    from grammar_rae.cli.commands import COMMANDS
    from grammar_rae.cli.main import build_parser

    full = build_parser()  # every module in full
    (action,) = [a for a in full._actions if a.dest == "command"]
    assert list(action.choices) == list(COMMANDS)
    for name, (module, _) in COMMANDS.items():  # asking for one command registers its module in full
        (one,) = [a for a in build_parser(name)._actions if a.dest == "command"]
        registered = {n for n, p in one.choices.items() if p.add_help}
        assert registered == {n for n, (m, _) in COMMANDS.items() if m == module}
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and all(f"    {name}" in out for name in COMMANDS)


def _bad_run(tmp_path):
    (tmp_path / "badrun").mkdir()
    (tmp_path / "badrun" / "config.json").write_text('{"grammar": "expr"}')
    return str(tmp_path / "badrun")


def _nan_vector(tmp_path):
    path = tmp_path / "nan.jsonl"
    path.write_text('{"z": [' + ", ".join(["NaN"] + ["0"] * 24) + "]}\n")
    return str(path)


@pytest.mark.parametrize(
    "make_argv, code, message",
    [
        (lambda d: ["sample", "--n", "1000000000000"], 1, "is more than one run samples"),
        (lambda d: ["sample", "--n", "5", "--out", str(d)], 1, "is a folder: give a file name"),
        (lambda d: ["sample", "--n", "5", "--out", str(d), "--force"], 1, "is a folder: give a file name"),
        (lambda d: ["sample", "--n", "5", "--out", str(d / "f.txt" / "x.csv")], 1, "is not a writable folder"),
        (
            lambda d: ["sample", "--n", "5", "--out", "/proc/no/such/x.csv"],
            1,
            "Cannot write /proc/no/such/x.csv: its folder cannot be made",
        ),
        (lambda d: ["sample", "--n", "5", "--model", str(d / "f.txt")], 1, "is a file, not a run folder"),
        (lambda d: ["sample", "--n", "5", "--model", _bad_run(d)], 1, "it lacks grammar_hash"),
        (
            lambda d: ["train", "--lr", "-1", "--grammar", "expr", "--out", str(d / "never")],
            2,
            "-1 must be a positive finite number",
        ),
        (
            lambda d: ["train", "--beta", "nan", "--grammar", "expr", "--out", str(d / "never")],
            2,
            "must be a finite number of at least 0",
        ),
        (lambda d: ["decode", "--file", str(d / "no-such.jsonl"), "--model", "pretrained:expr-grae"], 1, "Cannot read"),
        (lambda d: ["decode", "--file", _nan_vector(d), "--model", "pretrained:expr-grae"], 1, "holds NaN or infinity"),
        (
            lambda d: ["export", "--model", str(d / "no-such"), "--name", "x", "--out", str(d)],
            1,
            "holds no grammar-rae run",
        ),
        (
            lambda d: ["export", "--model", "pretrained:expr-grae", "--name", "../never", "--out", str(d / "models")],
            1,
            "A model name is a plain name of letters, digits",
        ),
        (
            lambda d: ["export", "--model", "pretrained:expr-grae", "--name", "/tmp/never", "--out", str(d / "models")],
            1,
            "not '/tmp/never'",
        ),
    ],
)
def test_bad_inputs_fail_in_one_sentence_before_work(tmp_path, capsys, make_argv, code, message):
    (tmp_path / "f.txt").write_text("not a folder\n")
    argv = make_argv(tmp_path)
    if code == 2:  # argparse's own refusal
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
    else:
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 + ("shipped" in err)  # plus the line naming a shipped model
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "never").exists()
