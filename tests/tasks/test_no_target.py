"""tasks/no_target.py: a family's GREC/GRES "no target" rule, and the flagged fallback."""

from __future__ import annotations

from padt_eval.tasks.no_target import NO_TARGET, UNKNOWN, no_target_rule


def test_a_listed_family_gets_its_rule_and_anything_else_the_flagged_fallback():
    assert no_target_rule("qwen2_5_vl") is NO_TARGET["qwen2_5_vl"] and no_target_rule("qwen2_5_vl").documented
    assert no_target_rule("padt").multi.startswith("every VRT run is one object")
    for family in (None, "", "not-a-family"):
        rule = no_target_rule(family)
        assert rule is UNKNOWN and not rule.documented and "family not listed" in rule.rule
