"""Policy parser: SDK-list extraction quality on the project's corpus and on the real policies, and parse time
of a 300 KB policy.

    .venv/bin/python bench/policy/run.py [--real ../shared/policies] [--write BENCHMARKS.md]

Quality is scored as tests/policy/policy_scoring.py scores it (rows paired by name in source order; per-row PI
items compared after folding width, case and spaces). The real policies are read where they are and never
copied; without them that half is skipped. The 300 KB documents are made by repeating the corpus's text-layout
policies (and, when present, the real ones) until 300 KB of UTF-8; the figure is the median of 5 parses.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the test rig (support.*) is not part of the package
sys.path.insert(0, str(ROOT / "tests" / "policy"))

from monitor.policy import declared_scope, parse_policy  # noqa: E402
from monitor.policy.text import decode  # noqa: E402
from policy_scoring import Score, load_labels, score  # noqa: E402
from support.benchwriter import replace_section  # noqa: E402

CORPUS = ROOT / "tests" / "policy" / "corpus"
TARGET_BYTES = 300_000


def quality(folder: Path) -> tuple[Score, list[str]]:
    total = Score()
    lines = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".json" or not path.stem.isdigit():
            continue
        labels = load_labels(path.with_suffix(".json"))
        result = score(declared_scope(path), labels)
        total.add(result)
        lines.append(f"| {path.name} | {labels.get('layout', '')[:60]} | {result.matched}/{result.labelled} | {result.found} | "
                     f"{result.pi_matched}/{result.pi_labelled} |")
    return total, lines


def big_document(paths: list[Path]) -> str:
    texts = [decode(path.read_bytes())[0] for path in paths]  # 16.txt is GBK
    text = "\n\n".join(texts)
    repeat = TARGET_BYTES // len(text.encode("utf-8")) + 1
    text = "\n\n".join([text] * repeat)
    return text.encode("utf-8")[:TARGET_BYTES].decode("utf-8", "ignore")


def timed(text: str) -> tuple[float, float, int]:
    """(median wall seconds, median CPU seconds, rows): the machine is shared, so CPU time says what the parser costs
    and wall time what a user waited."""
    parse_policy(text[:20_000], source="warm-up")  # vocabulary and SDK table loaded once, as in a long-lived process
    walls, cpus = [], []
    rows = 0
    for _ in range(5):
        wall, cpu = time.perf_counter(), time.process_time()
        rows = len(parse_policy(text, source="big").sdks)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "policies")
    parser.add_argument("--write", type=Path, default=None, help="record the figures in this BENCHMARKS.md")
    args = parser.parse_args()

    own, own_lines = quality(CORPUS)
    has_real = (args.real / "README.md").exists()
    real, real_lines = quality(args.real) if has_real else (None, [])
    own_text = big_document([path for path in sorted(CORPUS.glob("*.txt"))])
    own_seconds, own_cpu, own_rows = timed(own_text)
    real_seconds = real_cpu = real_rows = None
    if has_real:
        real_seconds, real_cpu, real_rows = timed(big_document([path for path in sorted(args.real.iterdir()) if path.suffix in {".txt", ".md"}
                                                      and path.stem.isdigit()]))

    def figures(name: str, total: Score) -> str:
        return (f"| {name} | {total.labelled} | {total.recall:.1%} | {total.precision:.1%} | {total.pi_recall:.1%} | "
                f"{total.pi_precision:.1%} | {total.pi_rows_ok}/{total.matched} | {total.company_ok}/{total.matched} | "
                f"{total.mapped}/{total.found} | {total.name_exact}/{total.matched} names, {total.pi_exact}/{total.pi_labelled} PI items |")

    section = ["## policy", "",
               "Privacy-policy parser (`monitor/policy`, `consentmon scope`): SDK-list rows and the PI each row declares, "
               "scored against hand labels (`bench/policy/run.py`; scoring: `tests/policy/policy_scoring.py`: rows paired by "
               "name in source order, per-row PI items compared after folding width, case and spaces; listed non-SDK "
               "recipients count neither way).", "",
               "| corpus | labelled rows | row recall | row precision | PI items recall | PI items precision | rows with every PI item exact | company as labelled | rows given an SDK id | as written, no folding |",
               "|---|---|---|---|---|---|---|---|---|---|", figures("own corpus (tests/policy/corpus, 34 policies)", own)]
    if real is not None:
        section.append(figures("real policies (../shared/policies, 12, read in place)", real))
    else:
        section.append("| real policies | — | not measured: ../shared/policies absent | | | | | | | |")
    load = os.getloadavg()[0]
    section += ["", f"Parse time of a 300 KB policy (median of 5, one process, vocabulary loaded; wall / CPU, load average "
                    f"{load:.1f} on {os.cpu_count()} cores while measured): own corpus's text layouts repeated "
                    f"(every layout, {own_rows} SDK rows): **{own_seconds * 1000:.0f} ms / {own_cpu * 1000:.0f} ms**"
                + (f"; the real policies' text ({real_rows} SDK rows and their prose): **{real_seconds * 1000:.0f} ms / {real_cpu * 1000:.0f} ms**."
                   if real_seconds is not None and real_cpu is not None else "."),
                "", "Rows given an SDK id map to monitor/data/sdks.yaml by name, alias, package or company (the reason is kept); "
                    "the others are SDKs the table does not know (open-source libraries, small vendors) and stay as written.",
                "", "Per document:", "", "| file | layout | rows found/labelled | rows output | PI items found/labelled |", "|---|---|---|---|---|"]
    section += own_lines + real_lines
    if real is not None and (real.missed or real.extra):
        section += ["", f"Real policies, rows missed: {real.missed or 'none'}; rows output that are not labelled rows: {real.extra or 'none'}."]
    text = "\n".join(section) + "\n"
    print(text)
    if args.write:
        replace_section("## policy", text, args.write)


if __name__ == "__main__":
    main()
