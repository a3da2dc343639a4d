"""The console's inline SVG charts: scaling into the box, titles for screen readers, escaping."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from api.console.charts import HEIGHT, PAD, WIDTH, line_chart, points


@given(st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=200))
def test_points_stay_inside_the_box(values: list[float]) -> None:
    pairs = [tuple(map(float, p.split(","))) for p in points(values).split()]
    assert len(pairs) == len(values)
    for x, y in pairs:
        assert PAD - 0.1 <= x <= WIDTH - PAD + 0.1
        assert PAD - 0.1 <= y <= HEIGHT - PAD + 0.1
    xs = [x for x, _ in pairs]
    assert xs == sorted(xs)


def test_the_highest_value_is_drawn_highest() -> None:
    pairs = [tuple(map(float, p.split(","))) for p in points([1.0, 5.0, 3.0]).split()]
    assert min(pairs, key=lambda p: p[1]) == pairs[1]  # SVG's y grows downwards


def test_a_chart_names_its_data_and_escapes_its_title() -> None:
    svg = str(line_chart([1.0, 2.5], "Spend <b>", " MB"))
    assert 'role="img"' in svg
    assert "last 2.5 MB" in svg
    assert "<b>" not in svg
    assert "&lt;b&gt;" in svg
    assert "no data yet" in str(line_chart([], "Spend"))
