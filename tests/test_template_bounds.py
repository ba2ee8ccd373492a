"""A template cannot make the renderer allocate much memory or run long: every value it builds is sized first.

Each attack runs in a fresh process under an address-space limit of 1 GiB
and a timeout, so an allocation that slipped through fails the test (with a
MemoryError message, or the timeout) instead of taking the machine down. A
refused template is exit 2 with a message that names the limit, nothing on
stdout, nothing written.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HEADER = ("apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata: {name: default, namespace: argo-events,\n"
          "  labels: {{ labels | yaml }},\n  annotations: {{ annotations | yaml }}}\nspec:\n"
          "  jetstream: {version: '2.10.29', replicas: 3}\n")
GIB = 1024 ** 3


def run_limited(app, *args, timeout=120):
    """``eventbus-render render --app APP`` in a new process limited to 1 GiB of address space."""
    def limit():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (GIB, GIB))

    result = subprocess.run([sys.executable, "-m", "renderer", "render", "--app", str(app), *args],
                            capture_output=True, text=True, timeout=timeout, preexec_fn=limit,
                            env={**os.environ, "EVENTBUS_RENDER_WORKER": ""})
    return result.returncode, result.stdout, result.stderr


def refused_in_time(make_app, body: str, *fragments, tmp_path=None):
    app = make_app("backend: jetstream\n", files={"templates/jetstream.yaml.j2": HEADER + body})
    out_dir = app.parent / "out"
    code, out, err = run_limited(app, "-o", out_dir)
    assert code == 2, (code, err)
    assert out == "" and "Traceback" not in err and "MemoryError" not in err, err
    assert "would build a value of" in err or "would pass 1,048,576" in err or "at most" in err \
        or "numbers only" in err, err
    for fragment in fragments:
        assert fragment in err, err
    assert not out_dir.exists()


HUGE = 2_000_000_000
STRING_ATTACKS = {
    "printf width through format": f"'%{HUGE}d' | format(1)",
    "printf left-justify through format": f"'%-{HUGE}s' | format('x')",
    "printf precision through format": f"'%.{HUGE}f' | format(1.5)",
    "printf star width through format": f"'%*d' | format({HUGE}, 1)",
    "printf named width through format": f"'%(a){HUGE}s' | format(a=1)",
    "the % operator": f"'%{HUGE}d' % 1",
    "the % operator on bytes": f"'%{HUGE}d'.encode() % 1",
    "str.format width": f"'{{:{HUGE}}}'.format(1)",
    "str.format nested width": f"'{{:>{{w}}}}'.format('x', w={HUGE})",
    "str.format precision": f"'{{:.{HUGE}f}}'.format(1.5)",
    "str.format_map": f"'{{x:{HUGE}}}'.format_map({{'x': 1}})",
    "many moderate fields": "('{:900000}' * 20).format(*range(20))",
    "center filter": f"'x' | center({HUGE})",
    "center method": f"'x'.center({HUGE})",
    "ljust method": f"'x'.ljust({HUGE})",
    "rjust method": f"'x'.rjust({HUGE})",
    "zfill method": f"'1'.zfill({HUGE})",
    "expandtabs": "('\\t' * 100000).expandtabs(100000)",
    "indent filter": "('\\n' * 100000) | indent(100000)",
    "indent filter with a string": "('\\n' * 100000) | indent('x' * 100000)",
    "wordwrap filter": "('a b ' * 100000) | wordwrap(1, wrapstring='x' * 100000)",
    "replace filter": "('x' * 1000000) | replace('', 'y' * 1000)",
    "replace method": "('x' * 1000000).replace('x', 'y' * 1000)",
    "join filter": "range(100000) | join('x' * 100000)",
    "join method": "('y' * 100000).join(['a'] * 100000)",
    "join of one long string many times": "(['z' * 1000000] * 1000) | join",
    "translate": "('a' * 1000000).translate({97: 'x' * 1000})",
    "tojson indent": f"values | tojson(indent={HUGE})",
    "tojson of one long string many times": "(['z' * 1000000] * 1000) | tojson",
    "yaml of one long string many times": "(['z' * 1000000] * 1000) | yaml",
    "string of one long string many times": "(['z' * 1000000] * 1000) | string",
    "to_bytes": f"(1).to_bytes({HUGE}, 'big')",
    "bytes repetition": f"'x'.encode() * {HUGE}",
    "batch with a fill": f"[1] | batch({HUGE}, 'x') | list",
    "slice": f"range(10) | slice({HUGE}) | list",
    "sum of lists": "([[1] * 100] * 100000) | sum(start=[])",
    "powers of powers": "((10 ** 60) ** 60) ** 60",
    "products of products": "(10 ** 60) * (10 ** 60) * ((10 ** 60) ** 60) * ((10 ** 60) ** 60) * ((10 ** 60) ** 60)",
    "concatenation with ~": "('x' * 1000000) ~ ('y' * 1000000)",
    "upper that doubles a long string": "('ß' * 600000) | upper",
}


@pytest.mark.parametrize("case", sorted(STRING_ATTACKS))
def test_an_expression_that_would_build_a_huge_value_is_refused_before_it_is_built(make_app, case):
    refused_in_time(make_app, "  # {{ " + STRING_ATTACKS[case] + " }}\n")


STATEMENT_ATTACKS = {
    "doubling with ~ in a recursive macro": "{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s | length }}"
                                            "{% endmacro %}  # {{ d('x' * 1000, 40) }}\n",
    "output of a loop": "{% for i in range(100000) %}  # {{ 'x' * 1000000 }}\n{% endfor %}",
    "a block captured with set": "{% set x %}{% for i in range(100000) %}{{ 'x' * 1000000 }}{% endfor %}"
                                 "{% endset %}  # {{ x | length }}\n",
    "a filter block": "{% filter indent(1000000) %}{% for i in range(1000) %}\n{% endfor %}{% endfilter %}",
    "a value rebuilt in a loop": "{% for i in range(100000) %}{% set x = ('x' * 1000000) ~ i %}{% endfor %}",
    "many values each under the limit, all kept": "{% macro acc(l, n) %}{{ acc(l + [('x' * 1000000) ~ n], n - 1) "
                                                  "if n else l | length }}{% endmacro %}  # {{ acc([], 500) }}\n",
    "a call of a macro in a loop": "{% macro m() %}{{ 'x' * 1000000 }}{% endmacro %}"
                                   "{% for i in range(100000) %}{% set _ = m() %}{% endfor %}",
}


@pytest.mark.parametrize("case", sorted(STATEMENT_ATTACKS))
def test_statements_that_would_build_too_much_in_all_are_refused(make_app, case):
    refused_in_time(make_app, STATEMENT_ATTACKS[case])


def test_a_template_within_the_limits_uses_all_of_these_freely(make_app, cli):
    body = ("  # {{ '%5d|%-3s|%.2f' | format(42, 'a', 1.5) }} {{ '{:>8}'.format('x') }} {{ 'x' | center(9) }}\n"
            "  # {{ ('a\\nb') | indent(2) | replace('\\n', ' ') }} {{ 'a b c' | wordwrap(2) | replace('\\n', ' ') }}\n"
            "  # {{ range(5) | join(',') }} {{ values | tojson(indent=2) | length > 0 }}\n"
            "  # {{ [1, 2.5] | sum }} {{ [{'a': 1}, {'a': 2}] | sum(attribute='a') }}\n"
            "  # {{ 'ab' ~ 1 ~ none }} {{ (2 ** 64) * 3 }} {{ ('x' * 1000) | length }}\n"
            "  # {{ [1] | batch(3, 0) | list }} {{ 'a\tb'.expandtabs(4) }} {{ 'x'.zfill(5) }}\n")
    app = make_app("backend: jetstream\n", files={"templates/jetstream.yaml.j2": HEADER + body})
    result = cli("render", "--app", app)
    assert result.code == 0, result.err
    assert "replicas: 3" in result.out


def test_the_built_in_templates_run_in_the_same_bounded_sandbox():
    from renderer.stages import template, template_bounds

    env = template.environment(None)
    assert type(env).__name__ == "LimitedSandbox"
    assert env.concat is template_bounds.bounded_concat
    assert "urlize" not in env.filters
    for name in ("yaml", "format", "indent", "join", "tojson", "default"):
        assert env.filters[name].__wrapped__ is not None


def test_a_value_too_large_for_the_output_of_a_built_in_template_is_refused(make_app, cli):
    big = "x" * 600_000
    app = make_app("backend: jetstream\n", files={
        "overlays/a.yaml": f"values:\n  annotations:\n    example.com/a: {big}\n",
        "overlays/b.yaml": f"values:\n  annotations:\n    example.com/b: {big}\n"})
    result = cli("render", "--app", app, "--overlay", "a", "--overlay", "b")
    assert result.code == 2 and result.out == ""
    assert "builtin:templates/_eventbus.j2" in result.err and "would" in result.err
