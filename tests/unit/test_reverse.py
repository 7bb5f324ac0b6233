"""How a reverse-debugging run's stops are compared and judged."""

from avocado_rr.reverse import ReverseReport, State
from avocado_rr.testing.reverse import with_reverse
from avocado_rr.verdict import Check, Verdict, VerdictKind


def test_equal_states_have_no_differences():
    state = State(10, 0x1000, {"rax": "0x1", "eflags": "0x246"})
    assert state.differences(State(10, 0x1000, dict(state.registers))) == []


def test_differences_name_icount_pc_and_registers_with_both_values():
    forward = State(10, 0x1000, {"rax": "0x1", "eflags": "0x2c6"})
    reverse = State(11, 0x1004, {"rax": "0x1", "eflags": "0x246"})
    assert forward.differences(reverse) == [
        "icount 11, expected 10", "pc 0x1004, expected 0x1000",
        "registers eflags 0x246 (expected 0x2c6)"]


def test_many_register_differences_are_summarised():
    forward = State(1, 0, {f"r{n}": "0x0" for n in range(6)})
    reverse = State(1, 0, {f"r{n}": "0x1" for n in range(6)})
    text = forward.differences(reverse)[0]
    assert text.endswith("and 2 more")
    assert text.count("expected") == 4


def test_a_register_only_one_side_has_differs():
    assert State(1, 0, {"a": "0x0"}).differences(State(1, 0, {})) == [
        "registers a None (expected 0x0)"]


def passed() -> Verdict:
    return Verdict(VerdictKind.PASS, checks=[Check("console", True, "")])


def test_a_clean_reverse_run_adds_a_passed_check():
    report = ReverseReport(facts={"forward_icounts": [5, 1005],
                                  "breakpoint": "0x10",
                                  "breakpoint_icount": 5,
                                  "watchpoint": "0x20"})
    verdict = with_reverse(passed(), report)
    assert verdict.verdict == VerdictKind.PASS
    assert verdict.checks[-1].name == "reverse debugging"
    assert verdict.checks[-1].passed
    assert "[5, 1005]" in verdict.checks[-1].detail


def test_a_failed_reverse_run_makes_the_verdict_diverged_with_the_problems():
    report = ReverseReport(problems=[f"problem {n}" for n in range(7)])
    verdict = with_reverse(passed(), report)
    assert verdict.verdict == VerdictKind.DIVERGED
    assert not verdict.checks[-1].passed
    assert verdict.reason.startswith("reverse debugging check failed: "
                                     "problem 0; problem 1")
    assert "(and 2 more)" in verdict.reason
    # the record/replay checks are kept
    assert verdict.checks[0].name == "console"
