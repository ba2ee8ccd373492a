"""A run owns its caches: they live as long as the run, and nothing outside a run is kept."""

from renderer import context


def test_a_cache_lives_as_long_as_its_run():
    with context.run():
        context.cache("x")["k"] = 1
        assert context.cache("x") == {"k": 1}
        with context.run():  # a nested run joins the open one
            assert context.cache("x") == {"k": 1}
    with context.run():
        assert context.cache("x") == {}


def test_outside_a_run_nothing_is_remembered():
    context.cache("x")["k"] = 1
    assert context.cache("x") == {}
