"""Progress off a terminal: long work writes whole lines to standard error, never goes silent;
whether it shows follows the package's log level (the CLI's -q and -v)."""

from __future__ import annotations

import io
import logging

import pytest

from grammar_rae import progress
from grammar_rae.cli.main import main
from grammar_rae.progress import progress_bar


@pytest.fixture(autouse=True)
def shown():
    """Progress shown, as the CLI shows it by default (INFO); restored afterwards."""
    package = logging.getLogger("grammar_rae")
    level = package.level
    package.setLevel(logging.INFO)
    yield
    package.setLevel(level)


def test_off_a_terminal_a_bar_writes_whole_lines_at_most_every_interval(capsys):
    with progress_bar(total=5, desc="work", unit=" items") as bar:
        for _ in range(5):
            bar.update()
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert len(lines) == 2  # the start and the end: the five updates came within one interval
    assert lines[0].startswith("work:   0%") and lines[-1].startswith("work: 100%") and "5/5" in lines[-1]


def test_every_update_after_the_interval_is_a_line(capsys, monkeypatch):
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)
    with progress_bar(total=3, desc="step") as bar:
        for _ in range(3):
            bar.update()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split("|")[0].strip() for line in lines] == ["step:   0%", "step:  33%", "step:  67%", "step: 100%"]


def test_a_disabled_bar_is_silent(capsys):
    with progress_bar(total=3, desc="quiet", enabled=False) as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""


def test_data_prepare_reports_progress_into_a_log(capsys, isolated_cache, zinc_slice):
    assert main(["data", "prepare", "--data", str(zinc_slice), "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "preparing zinc400.smi: 100%" in err and "400/400" in err and "\r" not in err


def test_refreshes_do_not_bypass_the_interval(capsys):
    with progress_bar(total=50, desc="epoch") as bar:
        for k in range(50):
            bar.set_postfix(loss=f"{k:.4f}")  # redraws at once, as the trainer's bar does
            bar.update()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[-1].startswith("epoch: 100%")


def test_a_redraw_whose_rate_changes_width_is_not_a_new_line():
    stream = progress._Lines(io.StringIO())
    stream.write("\rstep: 100%|##########| 3/3 [00:00<00:00, 9.5it/s]")
    stream.write("\rstep: 100%|#########| 3/3 [00:00<00:00, 12345.6it/s]")  # the closing redraw, a wider rate
    assert stream.stream.getvalue().splitlines() == ["step: 100%|##########| 3/3 [00:00<00:00, 9.5it/s]"]


def test_a_bar_that_stops_short_still_writes_its_last_count(capsys):
    """Seven of ten items, then the work stops within the interval: the last line says 7/10."""
    with progress_bar(total=10, desc="work") as bar:
        for _ in range(7):
            bar.update()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and "0/10" in lines[0] and "7/10" in lines[-1] and lines[-1].startswith("work:  70%")


def test_progress_follows_the_log_level(capsys):
    logging.getLogger("grammar_rae").setLevel(logging.WARNING)  # Python's default: a library stays quiet
    with progress_bar(total=3, desc="hidden") as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""


def test_work_inside_a_bar_draws_no_bar_of_its_own(capsys):
    with progress_bar(total=2, desc="outer") as outer:
        for _ in range(2):
            with progress_bar(total=5, desc="inner") as inner:
                inner.update(5)
            outer.update()
    with progress_bar(total=1, desc="after") as bar:  # the outer bar closed: bars show again
        bar.update()
    err = capsys.readouterr().err
    assert "outer: 100%" in err and "inner" not in err and "after: 100%" in err


@pytest.mark.parametrize("flags", [["-q"], ["data", "prepare", "-q"]])
def test_quiet_cli_prints_no_progress(capsys, isolated_cache, zinc_slice, flags):
    argv = ["data", "prepare", "--data", str(zinc_slice), "--workers", "1", "--force"]
    argv = flags + argv if flags == ["-q"] else argv + ["-q"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "kept:" in captured.out


def test_quiet_and_verbose_together_are_refused_in_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["-q", "-v", "parse", "CCO"])
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        exit_.value.code == 2
        and err[-1] == "grammar-rae: error: argument -v/--verbose: not allowed with argument -q/--quiet"
    )
