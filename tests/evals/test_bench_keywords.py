"""python -m evals.bench_keywords runs and times both indexes at each size."""

from evals import bench_keywords


def test_the_keyword_benchmark_times_both_indexes_at_each_size(capsys):
    assert bench_keywords.main(["--sizes", "1,3", "--queries", "4"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert [(r[0], r[2]) for r in rows] == [
        ("1", "postings"),
        ("1", "BM25Okapi"),
        ("3", "postings"),
        ("3", "BM25Okapi"),
    ]
    assert int(rows[2][1].replace(",", "")) == 3 * int(rows[0][1])  # chunks grow with size


def test_recombined_corpora_are_the_article_then_shuffled_copies_fixed_by_seed():
    base = [["a", "b", "c"], ["d", "e"]]
    docs = bench_keywords.corpus(3, base)
    assert docs[:2] == base and len(docs) == 6
    assert docs == bench_keywords.corpus(3, base)
