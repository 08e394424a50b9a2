"""Cold `bn decide` on the flagship decision model, against `bn query` on the flagship network."""

from __future__ import annotations

from timing import BN, ROOT, cold, table


def main() -> None:
    model = str(ROOT / "examples" / "nuclear-decisions")
    ours = cold([BN, "decide", "--model", model])
    query = cold([BN, "query", "KABOOM", "--model", str(ROOT / "cpts")])
    rows = [
        ("task", "bn median (s)", "cold bn query (s)", "target"),
        ("cold `bn decide`, examples/nuclear-decisions", f"{ours:.3f}", f"{query:.3f}", "<= 0.5 s"),
    ]
    print(table(rows))


if __name__ == "__main__":
    main()
