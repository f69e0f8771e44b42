"""Data preparation: cache, rejects with line numbers, sources, downloads and bad input."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil

import numpy as np
import pytest
from conftest import small_run

from grammar_rae.cli.main import main
from grammar_rae.data import prepare_dataset, resolve_data, sources
from grammar_rae.data.reading import read_strings
from grammar_rae.errors import DataError
from grammar_rae.grammar.codec import Codec

BAD_LINES = {
    "C[Na]": "unknown token",  # 'a' is not a terminal
    "CC(C": "not in grammar",
    "c1ccccc": "invalid",  # parses, but the ring is never closed: RDKit rejects it
    "": "empty",
    "C" * 120: "too long",
}


@pytest.fixture
def zinc_slice_with_bad_lines(tmp_path, zinc):
    """300 real molecules with five bad lines mixed in; returns (path, {line: kind})."""
    lines = list(zinc[:300])
    expected = {}
    for offset, text in enumerate(BAD_LINES):
        position = 37 * (offset + 1)
        lines.insert(position, text)
    for number, text in enumerate(lines, start=1):
        if text in BAD_LINES:
            expected[number] = BAD_LINES[text]
    path = tmp_path / "slice.smi"
    path.write_text("\n".join(lines) + "\n")
    return path, expected


def _rejects(dataset) -> list[dict]:
    with open(dataset.rejects_path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_prepare_keeps_good_lines_and_lists_bad_ones(zinc_slice_with_bad_lines, smiles_grammar, tmp_path, zinc):
    path, expected = zinc_slice_with_bad_lines
    dataset = prepare_dataset(smiles_grammar, path, cache_dir=tmp_path / "cache", workers=2)
    assert len(dataset) == 300
    assert dataset.meta["lines"] == 305
    assert dataset.rejected == {kind: 1 for kind in expected.values()}
    rows = _rejects(dataset)
    assert {int(r["line"]): r["kind"] for r in rows} == expected
    assert all(r["reason"] for r in rows)
    assert dataset.strings == zinc[:300]
    assert len(set(dataset.line_numbers.tolist()) | set(expected)) == 305
    assert isinstance(dataset.productions, np.memmap) and dataset.productions.dtype == np.int8
    assert Codec(smiles_grammar).decode_array(dataset.productions[:20]) == zinc[:20]
    assert (dataset.lengths <= 277).all() and dataset.lengths.dtype == np.int16


def test_prepare_reuses_its_cache(tmp_path, expr_grammar, expressions):
    path = tmp_path / "expr.txt"
    path.write_text("\n".join(expressions[:500]) + "\n")
    first = prepare_dataset(expr_grammar, path, cache_dir=tmp_path / "cache")
    (first.folder / "strings.txt").write_text("marker")
    again = prepare_dataset(expr_grammar, path, cache_dir=tmp_path / "cache")
    assert again.folder == first.folder and again.strings == ["marker"]
    forced = prepare_dataset(expr_grammar, path, cache_dir=tmp_path / "cache", force=True)
    assert forced.strings == expressions[:500]
    path.write_text("\n".join(expressions[:400]) + "\n")  # other data: another cache entry
    assert prepare_dataset(expr_grammar, path, cache_dir=tmp_path / "cache").folder != first.folder
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]  # no staging left


def test_prepare_reads_a_csv_column(tmp_path, smiles_grammar, zinc):
    path = tmp_path / "mols.csv"
    path.write_text("id,smiles\n" + "".join(f"m{i},{s}\n" for i, s in enumerate(zinc[:50])) + "m50,C[Xx]\n")
    dataset = prepare_dataset(smiles_grammar, path, column="smiles", cache_dir=tmp_path / "cache")
    assert dataset.strings == zinc[:50]
    assert [int(r["line"]) for r in _rejects(dataset)] == [52]  # header is line 1
    with pytest.raises(DataError, match="no column 'smi'"):
        prepare_dataset(smiles_grammar, path, column="smi", cache_dir=tmp_path / "cache")


def test_named_dataset_resolves_from_the_data_dir(isolated_cache, expr_grammar, expr_path):
    assert resolve_data(None, "expr") == expr_path
    assert resolve_data("expr100k", "expr") == expr_path
    dataset = prepare_dataset(expr_grammar, "expr100k")
    assert len(dataset) == 100_000 and dataset.rejected == {}
    assert dataset.folder.parent == isolated_cache / "prepared"


def test_bad_inputs_give_clear_errors(tmp_path, smiles_grammar):
    empty = tmp_path / "empty.smi"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty"):
        prepare_dataset(smiles_grammar, empty, cache_dir=tmp_path)
    with pytest.raises(DataError, match="No such file or data set 'missing.smi'"):
        prepare_dataset(smiles_grammar, "missing.smi", cache_dir=tmp_path)
    binary = tmp_path / "binary.smi"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataError, match="Cannot read"):
        read_strings(binary)
    junk = tmp_path / "junk.smi"
    junk.write_text("hello\nworld\n")
    with pytest.raises(DataError, match="None of the 2 lines"):
        prepare_dataset(smiles_grammar, junk, cache_dir=tmp_path)
    with pytest.raises(DataError, match="written in the smiles grammar"):
        resolve_data("zinc250k", "expr")


def test_the_same_bytes_under_another_name_are_reported_under_that_name(tmp_path, expr_grammar, expressions, capsys):
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("\n".join(expressions[:100]) + "\n")
    shutil.copy(first, second)
    assert prepare_dataset(expr_grammar, first, cache_dir=tmp_path / "cache").meta["source"] == str(first.resolve())
    again = prepare_dataset(expr_grammar, second, cache_dir=tmp_path / "cache")
    assert again.meta["source"] == str(second.resolve()) and again.meta["prepared_from"] == str(first.resolve())
    assert (
        main(["data", "prepare", "--grammar", "expr", "--data", str(second), "--cache-dir", str(tmp_path / "cache")])
        == 0
    )
    assert (
        f"data:     {second.resolve()} (same bytes as {first.resolve()}, prepared earlier: reused)"
        in capsys.readouterr().out
    )


def test_corrupt_cache_is_reported(tmp_path, expr_grammar, expressions):
    path = tmp_path / "expr.txt"
    path.write_text("\n".join(expressions[:100]) + "\n")
    dataset = prepare_dataset(expr_grammar, path, cache_dir=tmp_path / "cache")
    (dataset.folder / "lengths.npy").write_bytes(b"not numpy")
    with pytest.raises(DataError, match="missing or corrupt"):
        prepare_dataset(expr_grammar, path, cache_dir=tmp_path / "cache")


def _fake_registry(monkeypatch, url: str, sha256: str) -> None:
    entry = {"grammar": "expr", "filename": "tiny.txt", "url": url, "sha256": sha256, "lines": 2}
    monkeypatch.setattr(sources, "registry", lambda: {"tiny": entry})


def test_download_is_verified_and_kept(isolated_cache, monkeypatch, tmp_path):
    monkeypatch.delenv("GRAMMAR_RAE_DATA_DIR")
    remote = tmp_path / "remote.txt"
    remote.write_text("x + 1\nx * 2\n")
    _fake_registry(monkeypatch, remote.as_uri(), hashlib.sha256(remote.read_bytes()).hexdigest())
    path = resolve_data("tiny", "expr")
    assert path == isolated_cache / "datasets" / "tiny.txt" and path.read_text() == "x + 1\nx * 2\n"


def test_download_with_wrong_hash_is_discarded(isolated_cache, monkeypatch, tmp_path):
    monkeypatch.delenv("GRAMMAR_RAE_DATA_DIR")
    remote = tmp_path / "remote.txt"
    remote.write_text("x + 1\n")
    _fake_registry(monkeypatch, remote.as_uri(), "0" * 64)
    with pytest.raises(DataError, match="was discarded"):
        resolve_data("tiny", "expr")
    assert not list((isolated_cache / "datasets").iterdir())


def test_offline_download_says_how_to_provide_the_file(isolated_cache, monkeypatch):
    monkeypatch.delenv("GRAMMAR_RAE_DATA_DIR")
    _fake_registry(monkeypatch, "http://127.0.0.1:9/tiny.txt", "0" * 64)
    with pytest.raises(DataError, match=r"download it yourself and pass --data FILE"):
        resolve_data("tiny", "expr")


def test_registry_matches_the_shared_files(zinc_path, expr_path):
    info = sources.registry()
    assert sources.file_sha256(zinc_path) == info["zinc250k"]["sha256"]
    assert sources.file_sha256(expr_path) == info["expr100k"]["sha256"]
    assert json.loads(json.dumps(info))  # plain data


def test_a_run_finds_its_data_in_the_prepared_cache_once_the_file_is_gone(
    isolated_cache, tmp_path, expressions, monkeypatch, capsys
):
    """After one prepare, commands on a run need neither the raw file nor $GRAMMAR_RAE_DATA_DIR
    (nor a download): the prepared arrays are found by the file's sha256."""

    data = tmp_path / "my-expressions.txt"
    data.write_text("\n".join(expressions[:600:2]) + "\n")
    run = small_run(tmp_path / "run", "expr", "grae", data, epochs=1)
    data.unlink()
    capsys.readouterr()
    monkeypatch.delenv("GRAMMAR_RAE_DATA_DIR")
    monkeypatch.setattr(sources, "download", lambda *_: pytest.fail("nothing may be downloaded"))
    assert (
        main(
            ["sample", "--model", str(run), "--n", "20", "--decode", "sample", "--report", "validity,novelty", "--json"]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert (
        report["n"] == 20 and report["valid"] > 0 and isinstance(report["novelty"], float)
    )  # novelty needs the training set


def test_a_generated_set_is_made_again_from_its_recipe(isolated_cache, tmp_path, expr_grammar):
    from grammar_rae.data.prepare import run_dataset
    from grammar_rae.training.api import data_record

    out = tmp_path / "generated.txt"
    recipe = sources.generate_dataset("expr", 300, 9, 4, out)
    assert recipe == {
        "generator": "generate-expressions",
        "grammar": "expr",
        "grammar_hash": expr_grammar.hash,
        "n": 300,
        "max_productions": 9,
        "seed": 4,
    }
    original = out.read_text()
    record = data_record(prepare_dataset(expr_grammar, out))
    assert record["recipe"] == recipe and record["sha256"] == hashlib.sha256(original.encode()).hexdigest()
    out.unlink()
    for folder in (isolated_cache / "prepared", isolated_cache / "generated"):  # a machine that never saw the file
        shutil.rmtree(folder)
    again = run_dataset(expr_grammar, record)
    assert "\n".join(again.strings) + "\n" == original
    assert again.meta["source_sha256"] == record["sha256"]
    with pytest.raises(DataError, match="not there any more"):
        run_dataset(expr_grammar, {"source": str(out), "sha256": "0" * 64})
