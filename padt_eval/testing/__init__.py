"""Instruments for the tests and benchmarks, never for results.

`op_counter` counts the aten ops (and host syncs) a piece of code dispatches;
`reference_strategy` is the PaDT release's decoding loop, the benchmarks' anchor;
`teacher_force` runs PaDT's chain on given completions (the parity fixture's third path).
They ship with the package so that benchmarks run from an installed copy too, but no
product module imports them: the layers contract in pyproject.toml puts `testing` on top,
and tests/test_testing_package.py checks that no import, lazy or by string, reaches it.
"""
