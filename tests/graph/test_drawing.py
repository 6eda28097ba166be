import re
import shutil

import pytest

from chainopt import ChainError, MissingToolError, trace
from chainopt.cli import main
from chainopt.graph import exp
from chainopt.graph.drawing import GraphvizNotFoundError

HAS_DOT = shutil.which("dot") is not None


@pytest.fixture
def graph():
    return trace(lambda w, x: 1 / (1 + exp(-(w[0] * x[0] + w[1] * x[1] + w[2]))),
                 [2, -3, -3], [-1, -2])


def test_dot_shows_every_operation_value_and_partial(graph):
    text = graph.to_dot()
    labels = dict(re.findall(r'^  n(\d+) \[label="([^"]*)"', text, re.M))
    assert len(labels) == len(graph)
    for node in graph.nodes:
        label = labels[str(node.index)]
        assert f"{node.value:.4g}" in label
        assert node.formula in label if node.op != "input" else label.startswith(node.name)
    edges = re.findall(r'^  n(\d+) -> n(\d+) \[label="([^"]*)"\];$', text, re.M)
    assert [(int(p), int(v), float(c)) for p, v, c in edges] == [
        (p, v, float(f"{c:.4g}")) for p, v, c in graph.edges]
    assert 'label="v12 = 1 / v11\\n0.7311\\n(f)", peripheries=2' in text


def test_several_outputs_on_one_node_are_all_named():
    text = trace(lambda x: ((a := x * x), a), 3.0).to_dot()
    assert '(f0, f1)' in text


def test_dot_files_need_no_graphviz(graph, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert graph.render(tmp_path / "g.gv").read_text() == graph.to_dot() + "\n"
    assert graph.render(tmp_path / "picture", format="dot").exists()


def test_missing_graphviz_says_how_to_install_it(graph, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz") as info:
        graph.render(tmp_path / "g.svg")
    assert "brew install graphviz" in str(info.value)
    assert isinstance(info.value, MissingToolError) and not isinstance(info.value, ChainError)


def test_missing_graphviz_is_one_line_from_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    status = main(["graph", "x*y", "--at", "x=1", "y=2", "--draw", str(tmp_path / "g.svg")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "install graphviz" in err


def test_unknown_format_and_failing_dot(graph, tmp_path, monkeypatch):
    with pytest.raises(ChainError, match="the format must be one of png, svg, pdf, dot, gv "
                                         r"\(from the file extension or format=\); got 'jpeg'"):
        graph.render(tmp_path / "g.jpeg")
    monkeypatch.setattr(shutil, "which", lambda name: "false")  # a 'dot' that fails
    with pytest.raises(ChainError, match="Graphviz 'dot' could not write"):
        graph.render(tmp_path / "g.png")


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz 'dot' is not installed")
def test_render_with_graphviz(graph, tmp_path):
    assert graph.render(tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")
    svg = graph.render(tmp_path / "g.svg").read_text()
    assert "v12 = 1 / v11" in svg and "w[0]" in svg
