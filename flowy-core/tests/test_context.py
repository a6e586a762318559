import pickle

import pytest
from flowy import Context


def test_attribute_and_item_access():
    ctx = Context(lr=0.1, epochs=3)
    assert ctx.lr == 0.1
    assert ctx["epochs"] == 3
    assert "lr" in ctx and "nope" not in ctx
    with pytest.raises(AttributeError, match="no parameter 'nope'.*known: epochs, lr"):
        _ = ctx.nope
    with pytest.raises(KeyError):
        ctx["nope"]


def test_child_inherits_and_overrides_without_touching_parent():
    parent = Context(lr=0.1, epochs=3)
    child = parent.child(lr=0.5, seed=7)
    assert child.to_dict() == {"lr": 0.5, "epochs": 3, "seed": 7}
    assert parent.to_dict() == {"lr": 0.1, "epochs": 3}
    grandchild = child.child(epochs=10)
    assert grandchild.to_dict() == {"lr": 0.5, "epochs": 10, "seed": 7}
    assert len(grandchild) == 3 and sorted(grandchild) == ["epochs", "lr", "seed"]


def test_context_is_read_only_and_picklable():
    ctx = Context(a=1).child(b=2)
    with pytest.raises(AttributeError, match="read-only"):
        ctx.a = 5
    assert pickle.loads(pickle.dumps(ctx)).to_dict() == {"a": 1, "b": 2}
