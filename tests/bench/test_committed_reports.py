"""A committed report re-renders from its own store with identical tables: the store is the whole interface between
measuring and reporting, and the schema change kept every stored field readable."""

import re
from pathlib import Path

import pytest

from bench.report import ReportSpec, build

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "reports" / "default"


def committed_command(index: Path) -> tuple[list[str], str]:
    """(--task values, --title) of the report's own command, as its index.md records it."""
    text = index.read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("python -m bench.pareto --results"))
    tasks = re.findall(r"--task (\S+)", line)
    title = re.search(r"--title '([^']*)'", line).group(1)
    return tasks, title


@pytest.mark.slow
def test_the_default_report_re_renders_identically_from_its_store(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the report names its inputs as given: relative, as committed
    tasks, title = committed_command(DEFAULT / "index.md")
    store = "reports/default/records.jsonl"
    command = next(
        ln for ln in (DEFAULT / "index.md").read_text().splitlines() if ln.startswith("python -m")
    )
    build(ReportSpec([store], tmp_path, tasks, title=title, reference=[store], commands=[command]))
    committed = sorted(p.name for p in DEFAULT.glob("*.csv"))
    assert committed and sorted(p.name for p in tmp_path.glob("*.csv")) == committed
    for name in committed:
        assert (tmp_path / name).read_text() == (DEFAULT / name).read_text(), name
    assert (tmp_path / "index.md").read_text() == (DEFAULT / "index.md").read_text()
