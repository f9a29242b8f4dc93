"""Rendering commands: bindings substituted, optional blocks kept or dropped."""

from __future__ import annotations

from mlops.pipeline.expressions import references, render, whole_binding

VALUES = {("inputs", "data"): "/d", ("inputs", "lr"): "0.1", ("outputs", "model"): "/m"}


def test_bindings_are_substituted():
    assert render("train --data ${{inputs.data}} --out ${{ outputs.model }}", VALUES.get) == (
        "train --data /d --out /m"
    )


def test_an_optional_block_is_kept_without_its_brackets_when_its_inputs_are_present():
    assert render("t $[[--lr ${{inputs.lr}}]]", VALUES.get) == "t --lr 0.1"


def test_an_optional_block_is_dropped_when_an_input_in_it_is_absent():
    assert render("t $[[--seed ${{inputs.seed}}]] --data ${{inputs.data}}", VALUES.get) == (
        "t  --data /d"
    )


def test_multi_line_commands_keep_their_lines():
    assert render("cd x\npython y.py ${{inputs.lr}}", VALUES.get) == "cd x\npython y.py 0.1"


def test_whole_binding_recognises_only_a_single_binding():
    assert whole_binding("${{parent.inputs.x}}") == ("parent", "inputs", "x")
    assert whole_binding("a ${{parent.inputs.x}}") is None
    assert whole_binding(3) is None
    assert references("${{inputs.a}} $[[${{inputs.b}}]]") == [("inputs", "a"), ("inputs", "b")]
