"""Bad configs fail before any simulation with one line naming key, value and what is allowed."""

from __future__ import annotations

import numpy as np
import pytest

from sim import ConfigError, compose, load_config
from sim.app.config import BOOL_VALUES, Config


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["population.market_size=-5"], r"population.market_size=-5 is not allowed: a number >= 1"),
        (["population.awareness.p=1.5"], r"population.awareness.p=1.5 is not allowed: a number >= 0 and <= 1"),
        (["horizon_days=5000"], r"horizon_days=5000 is not allowed: a number >= 1 and <= 3650"),
        (["population.segments.casual.churn.a=0"], r"population.segments.casual.churn.a=0 .* > 0"),
        (["population.market_size=abc"], r"population.market_size='abc' is not allowed: an integer \(got 'str'\)"),
        (["seed=1.5"], r"seed='1.5' is not allowed: an integer"),
        (["progress=maybe"], r"progress='maybe' is not allowed: true or false"),
        # whole numbers other than 0 and 1: OmegaConf read them as true (figures=-1 drew the figures)
        (["figures=-1"], r"^figures=-1 is not allowed: true or false \(or 1/0, yes/no, on/off, y/n\)$"),
        (["record_events=2"], r"^record_events=2 is not allowed: true or false \(or 1/0, yes/no, on/off, y/n\)$"),
        (
            ["strategy=winback", "strategy.winback.enabled=7"],
            r"^strategy.winback.enabled=7 is not allowed: true or false \(or 1/0, yes/no, on/off, y/n\)$",
        ),
        (
            ["strategy=winback", "strategy.winback={enabled: 2}"],
            r"^strategy.winback.enabled=2 is not allowed: true or false \(or 1/0, yes/no, on/off, y/n\)$",
        ),
        (["population.name='a b',c"], r"^population.name=\"'a b',c\" is not allowed: one value \(several are a sweep"),
        # a list of presets: Hydra merged them into one under the last one's name (segment weights summing to 2)
        (["strategy=[paid_growth,winback]"], r"^strategy='\[paid_growth,winback\]' is not allowed: one preset: a list"),
        (["population=[game,ecommerce]"], r"^population='\[game,ecommerce\]' is not allowed: one preset: a list"),
        (
            ["strategy=paid_growth,winback"],
            r"^strategy='paid_growth,winback' is not allowed: one value \(several are a sweep: opsim -m\)$",
        ),
        (["population.market_sizee=10"], r"population.market_sizee='10' .* unknown key in population; .*market_size"),
        (["+colour=red"], r"colour='red' .* unknown key in the top level"),
        (["+population.segments.core.foo=1"], r"population.segments.core.foo=1 .* expected one of weight, churn"),
        (["population=nope"], r"population='nope' .* one of consumer_app, ecommerce, game"),
        (["agents=everyone"], r"agents='everyone' is not allowed: one of auto, all, lazy"),
        (["population.lifecycle.churned_after_days=5"], r"churned_after_days=5 .* more than .*dormant_after_days=7"),
        (["population.weekly_visit_pattern=[1,1]"], r"weekly_visit_pattern=\[1.0, 1.0\] .* a list of 7"),
        (["population.weekly_purchase_pattern=[1,1,1,1,1,1,-1]"], r"weekly_purchase_pattern\[6\]=-1 .* >= 0"),
    ],
)
def test_bad_config_raises_one_line_error(overrides, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_config(compose(overrides))
    assert "\n" not in str(info.value)


def test_config_with_no_segments_is_rejected():
    with pytest.raises(ConfigError, match=r"population.segments=.* at least one segment"):
        load_config(Config())


def test_mapping_config_is_checked_against_the_schema():
    with pytest.raises(ConfigError, match=r"population.awarenes=.* unknown key in population"):
        load_config({"population": {"awarenes": {"p": 0.1}}})


def test_override_list_composes_presets():
    cfg = load_config(["population=game", "seed=4", "population.market_size=1000"])
    assert cfg.population.name == "game" and cfg.seed == 4 and cfg.population.market_size == 1000
    assert list(cfg.population.segments) == ["tourists", "players"]
    assert cfg.population.segments["players"].churn.c == pytest.approx(0.7)


def test_a_mapping_is_merged_over_the_default_config():
    cfg = load_config({"population": {"market_size": 5000}, "horizon_days": 30})
    default = load_config(None)
    assert cfg.population.market_size == 5000 and cfg.horizon_days == 30
    assert cfg.population.segments == default.population.segments  # the default preset's, not none
    assert cfg.population.awareness == default.population.awareness


def test_a_mapping_picks_presets_by_name_and_takes_dotted_keys():
    cfg = load_config({"population": "game", "strategy": "paid_growth", "strategy.paid_ads.search.daily_budget": 7})
    by_overrides = load_config(["population=game", "strategy=paid_growth", "strategy.paid_ads.search.daily_budget=7"])
    assert cfg == by_overrides


def test_a_population_given_with_segments_is_whole_like_a_preset_file():
    from sim.core.population import PopulationConfig

    cfg = load_config({"population": {"name": "mine", "segments": {"everyone": {"weight": 1.0}}}})
    assert list(cfg.population.segments) == ["everyone"]
    schema = PopulationConfig()
    assert (cfg.population.awareness, cfg.population.habit) == (schema.awareness, schema.habit)  # not consumer_app's
    game = load_config(["population=game"]).population
    from_node = load_config({"population": __import__("dataclasses").asdict(game)})
    assert from_node.population == game


def test_a_saved_config_loads_back_exactly():
    import dataclasses

    cfg = load_config(["population=game", "strategy=referral_led", "seed=8"])
    assert load_config(dataclasses.asdict(cfg)) == cfg


def test_a_bare_string_is_a_type_error_that_says_what_to_write():
    with pytest.raises(
        # it said "write ['game'] for an override", which is refused: a list of key=value
        TypeError,
        match=r"not a string .* write \['population=game'\] or \{'population': 'game'\} for a population preset "
        r"\(\['strategy=game'\] for a strategy preset\)$",
    ):
        load_config("game")


@pytest.mark.parametrize("bad", ["population.market_size=1000", b"population.market_size=1000"])
def test_a_bare_override_string_is_told_to_be_a_list_not_a_preset(bad):
    with pytest.raises(TypeError) as caught:
        load_config(bad)
    message = str(caught.value)
    assert message.endswith("write ['population.market_size=1000'] (a list of overrides)")
    assert "preset" not in message  # {'population': 'population.market_size=1000'} would be no preset


def test_bytes_that_are_not_utf8_are_still_told_what_to_write():
    """Undecodable bytes (e.g. read from a file in another encoding) get the advice with U+FFFD in their place."""
    with pytest.raises(TypeError) as caught:
        load_config(b"population.market_size=1000\xff")
    assert str(caught.value).endswith("write ['population.market_size=1000\ufffd'] (a list of overrides)")


def test_a_wrong_config_kind_is_a_type_error():
    with pytest.raises(TypeError, match="not int"):
        load_config(5)


def test_the_callers_mapping_is_left_as_it_was():
    given = {"population": {"awareness": {"p": 0.01}}, "population.awareness.q": 0.2}
    cfg = load_config(given)
    assert (cfg.population.awareness.p, cfg.population.awareness.q) == (0.01, 0.2)
    assert given == {"population": {"awareness": {"p": 0.01}}, "population.awareness.q": 0.2}


# --------------------------------------------------------------- what a sweep runs
@pytest.mark.parametrize(
    ("override", "runs"),
    [
        ("seed=0,1,2", ["seed=0", "seed=1", "seed=2"]),
        ("seed=range(0,3)", ["seed=0", "seed=1", "seed=2"]),
        ("seed=range(1,2)", ["seed=1"]),  # stop excluded: one value
        ("seed=range(6,0,-3)", ["seed=6", "seed=3"]),
        ("seed=sort(3,1,2)", ["seed=1", "seed=2", "seed=3"]),
        ("strategy=glob(paid*)", ["strategy=paid_growth"]),
        ("strategy=glob(*,exclude=[b*,paid*,re*])", ["strategy=activation_push", "strategy=winback"]),
        ("population=glob(*)", ["population=consumer_app", "population=ecommerce", "population=game"]),
    ],
)
def test_a_sweep_runs_each_of_its_values_once_in_order(override, runs):
    from sim.app.config import parse_overrides, sweep_variants, swept_values

    assert swept_values(parse_overrides([override])[0], override) == runs
    variants = sweep_variants([override, "horizon_days=5"])  # each value once, the other override kept
    assert variants == [[run, "horizon_days=5"] for run in runs]


def test_glob_also_picks_the_presets_of_the_config_dir(tmp_path):
    from sim.app.config import parse_overrides, swept_values

    (tmp_path / "strategy").mkdir()
    (tmp_path / "strategy" / "paid_social.yaml").write_text("name: paid_social\n")
    override = "strategy=glob(paid*)"
    assert swept_values(parse_overrides([override])[0], override, str(tmp_path)) == [
        "strategy=paid_growth",
        "strategy=paid_social",
    ]


@pytest.mark.parametrize(
    ("override", "why"),
    [
        ("seed=range(0,0)", "this one gives none"),  # Hydra's sweep: nothing to run (an IndexError before)
        ("seed=range(5,0)", "this one gives none"),
        ("strategy=glob(nothing*)", "this one gives none"),
        ("seed=range(0,3,0)", "a step other than 0"),  # Python's ValueError before
        ("seed=range(0,2),5", "a range alone, not in a list"),  # OmegaConf's "Set[str]" before
        ("seed=interval(0,1)", "interval() is for a sweeper that samples a range"),
        ("seed=glob(*)", "glob() picks presets of a config group (population, strategy)"),
    ],
)
def test_a_sweep_that_runs_nothing_or_cannot_be_listed_is_one_line_naming_it(override, why):
    from sim.app.config import SWEEP_VALUES, sweep_variants

    key, _, value = override.partition("=")
    with pytest.raises(ConfigError) as info:
        sweep_variants(["horizon_days=5", override])
    message = str(info.value)
    assert message.startswith(f"{key}={value!r} is not allowed: {SWEEP_VALUES}"), message
    assert why in message and "\n" not in message


@pytest.mark.parametrize(("given", "read"), [("0", False), ("1", True), ("false", False), ("on", True), ("no", False)])
def test_a_true_or_false_key_takes_0_and_1_and_the_words_yaml_reads(given, read):
    """The other side of refusing figures=-1: 0 and 1 stay false and true, as OmegaConf reads them."""
    assert load_config(compose([f"figures={given}", f"record_events={given}"])).figures is read


def test_a_preset_file_yaml_cannot_read_is_named_by_its_group_name_file_and_line(tmp_path):
    """The error named the whole command line as the key ("override='population=broken progress=false ...'")."""
    (tmp_path / "population").mkdir()
    (tmp_path / "population" / "broken.yaml").write_text("name: broken\nmarket_size: 5: 6\n")
    with pytest.raises(ConfigError) as info:
        compose(["population=broken", "seed=3"], extra_dir=str(tmp_path))
    file = tmp_path / "population" / "broken.yaml"
    assert str(info.value) == (
        f"population='broken' is not allowed: a preset file YAML can read ({file}, line 2, column 15: "
        "mapping values are not allowed here)"
    )


def test_a_yaml_error_with_a_context_names_the_problems_own_line(tmp_path):
    """YAML's "while parsing a flow sequence (line 1) ... expected ',' or ']' (line 2)": the first mark was named."""
    (tmp_path / "population").mkdir()
    (tmp_path / "population" / "open.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        compose(["population=open"], extra_dir=str(tmp_path))
    message = str(info.value)
    where = tmp_path / "population" / "open.yaml"
    assert message.startswith(
        f"population='open' is not allowed: a preset file YAML can read ({where}, line 2, column 1: expected ',' or ']'"
    ), message


def _preset(folder, group: str, name: str, text: str):
    (folder / group).mkdir(parents=True, exist_ok=True)
    path = folder / group / f"{name}.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("number", [2, -1, 7])
def test_a_whole_number_for_a_true_false_key_in_a_preset_file_is_refused_naming_the_file(tmp_path, number):
    """``enabled: 2`` in a user's preset ran the lever, as ``figures=-1`` on the command line drew the figures."""
    path = _preset(tmp_path, "strategy", "mine", f"name: mine\nwinback:\n  enabled: {number}\n")
    with pytest.raises(ConfigError) as info:
        compose(["strategy=mine"], extra_dir=str(tmp_path))
    assert str(info.value) == f"strategy.winback.enabled={number} is not allowed: {BOOL_VALUES} (in {path})"


@pytest.mark.parametrize(("number", "read"), [(0, False), (1, True)])
def test_0_and_1_for_a_true_false_key_in_a_preset_file_stay_false_and_true(tmp_path, number, read):
    _preset(tmp_path, "strategy", "mine", f"name: mine\nwinback:\n  enabled: {number}\n  silent_days: 3\n")
    cfg = load_config(compose(["strategy=mine"], extra_dir=str(tmp_path)))
    assert cfg.strategy.winback.enabled is read
    assert cfg.strategy.winback.silent_days == 3  # a whole number for a number key is not refused


@pytest.mark.parametrize(
    ("header", "values", "refused"),
    [
        ("# @package _global_\n", "figures: 3\n", "figures=3"),
        ("\n# @package economics\n# opsim\n", "marginal_roi: -2\nltv_days: 9\n", "economics.marginal_roi=-2"),
        ("# @package _global_.economics\n", "compare_to_baseline: 4\n", "economics.compare_to_baseline=4"),
    ],
)
def test_a_preset_file_is_checked_where_its_package_header_puts_it(tmp_path, header, values, refused):
    """The key is where Hydra puts the file's values (the header: consecutive ``# @`` lines at the top)."""
    path = _preset(tmp_path, "strategy", "mine", header + values)
    with pytest.raises(ConfigError) as info:
        compose(["strategy=mine"], extra_dir=str(tmp_path))
    assert str(info.value) == f"{refused} is not allowed: {BOOL_VALUES} (in {path})"


def test_an_empty_preset_file_composes(tmp_path):
    _preset(tmp_path, "strategy", "empty", "# nothing yet\n")
    assert load_config(compose(["strategy=empty"], extra_dir=str(tmp_path))).strategy.winback.enabled is False


def test_an_added_entry_takes_whole_numbers_for_its_number_keys(tmp_path):
    """An ``add@`` preset's keys go under its node (strategy.paid_ads.tv): none of them is true/false."""
    _preset(tmp_path, "add", "channel", "daily_budget: 2\ncpm: 7\n")
    cfg = load_config(compose(["strategy=paid_growth", "+add@strategy.paid_ads.tv=channel"], extra_dir=str(tmp_path)))
    assert (cfg.strategy.paid_ads["tv"].daily_budget, cfg.strategy.paid_ads["tv"].cpm) == (2, 7)


def test_a_true_false_key_in_the_primary_config_is_checked(tmp_path):
    primary = tmp_path / "study.yaml"
    primary.write_text("defaults:\n  - config\n  - _self_\nrecord_events: 4\n")
    with pytest.raises(ConfigError) as info:
        compose([], config_name="study", extra_dir=str(tmp_path))
    assert str(info.value) == f"record_events=4 is not allowed: {BOOL_VALUES} (in {primary})"


@pytest.mark.parametrize(
    ("override", "refused"),
    [
        ("plan.variables.search.log=2", "plan.variables.search.log=2"),
        (
            "plan.variables.search={key: strategy.paid_ads.search.daily_budget, per_period: 3}",
            "plan.variables.search.per_period=3",
        ),
    ],
)
def test_the_planners_own_true_false_keys_refuse_other_whole_numbers(override, refused):
    """``plan.variables.search.log=2`` searched on a log scale: only the planner's schema knows the key."""
    from sim.app.plan_config import PLAN_CONFIG_NAME, register_plan_schema

    register_plan_schema()
    with pytest.raises(ConfigError) as info:
        compose([override], config_name=PLAN_CONFIG_NAME)
    assert str(info.value) == f"{refused} is not allowed: {BOOL_VALUES}"


def test_the_planners_true_false_keys_take_0_and_1_and_a_plan_preset_is_checked(tmp_path):
    from sim.app.plan_config import PLAN_CONFIG_NAME, register_plan_schema

    register_plan_schema()
    composed = compose(["plan.variables.search.log=1", "plan.variables.social.log=0"], config_name=PLAN_CONFIG_NAME)
    assert (composed.plan.variables.search.log, composed.plan.variables.social.log) == (True, False)
    path = _preset(tmp_path, "plan", "mine", "# @package _global_\nplan:\n  variables:\n    a: {key: seed, log: 9}\n")
    with pytest.raises(ConfigError) as info:
        compose(["plan=mine"], config_name=PLAN_CONFIG_NAME, extra_dir=str(tmp_path))
    assert str(info.value) == f"plan.variables.a.log=9 is not allowed: {BOOL_VALUES} (in {path})"


#: A strategy preset with a whole number for a true/false key.
ENABLED_2 = "name: bad\nwinback:\n  enabled: 2\n"


def _refused_in(path, key_value: str, overrides: list[str], **where) -> None:
    """``compose(overrides, **where)`` refuses ``key_value`` as true/false, naming the file ``path``."""
    with pytest.raises(ConfigError) as info:
        compose(overrides, **where)
    assert str(info.value) == f"{key_value} is not allowed: {BOOL_VALUES} (in {path})"


def test_a_users_preset_named_as_opsims_is_the_file_checked(tmp_path):
    """``--config-dir`` is searched first: its strategy/winback.yaml is the one Hydra reads, and the one named."""
    path = _preset(tmp_path, "strategy", "winback", ENABLED_2)
    _refused_in(path, "strategy.winback.enabled=2", ["strategy=winback"], extra_dir=str(tmp_path))


def test_the_presets_after_a_primary_without_a_file_or_without_values_are_checked(tmp_path):
    """A primary from the ConfigStore (no file) or an empty one: the presets chosen after it are still read."""
    path = _preset(tmp_path, "strategy", "bad", ENABLED_2)
    _refused_in(
        path, "strategy.winback.enabled=2", ["+strategy=bad"], config_name="opsim_schema", extra_dir=str(tmp_path)
    )
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    _refused_in(path, "strategy.winback.enabled=2", ["+strategy=bad"], config_name="empty", extra_dir=str(tmp_path))


def test_a_preset_found_through_hydra_searchpath_is_checked(tmp_path):
    path = _preset(tmp_path, "strategy", "far", ENABLED_2)
    _refused_in(path, "strategy.winback.enabled=2", [f"hydra.searchpath=[file://{tmp_path}]", "strategy=far"])


def test_a_preset_of_a_group_within_a_group_is_checked_under_its_path(tmp_path):
    """``strategy/winback/w.yaml`` goes to strategy.winback, chosen by a study's defaults or on the command line."""
    path = _preset(tmp_path, "strategy/winback", "w", "enabled: 2\n")
    (tmp_path / "study.yaml").write_text("defaults:\n  - config\n  - strategy/winback: w\n  - _self_\n")
    _refused_in(path, "strategy.winback.enabled=2", [], config_name="study", extra_dir=str(tmp_path))
    _refused_in(path, "strategy.winback.enabled=2", ["+strategy/winback=w"], extra_dir=str(tmp_path))
    path.write_text("enabled: 1\nsilent_days: 4\n")  # and a good one is a preset, not a key named strategy/winback
    cfg = load_config(compose(["seed=2", "+strategy/winback=w"], extra_dir=str(tmp_path)))
    assert (cfg.strategy.winback.enabled, cfg.strategy.winback.silent_days, cfg.seed) == (True, 4, 2)


def test_a_primary_without_the_schema_is_checked_against_the_run_configs(tmp_path):
    """A primary of values only (no ``defaults``); its package header moves them, as Hydra does."""
    bare = tmp_path / "bare.yaml"
    bare.write_text("record_events: 4\n")
    _refused_in(bare, "record_events=4", [], config_name="bare", extra_dir=str(tmp_path))
    moved = tmp_path / "moved.yaml"
    moved.write_text("# @package economics\nmarginal_roi: 5\n")
    _refused_in(moved, "economics.marginal_roi=5", [], config_name="moved", extra_dir=str(tmp_path))


def test_a_hydra_group_preset_that_sets_opsims_keys_is_checked(tmp_path):
    path = _preset(tmp_path, "hydra/help", "mine", "# @package _global_\nfigures: 3\n")
    _refused_in(path, "figures=3", ["hydra/help=mine"], extra_dir=str(tmp_path))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        # inside a map entry: the entry's own keys, then the nested node's
        (
            "population.segments.core.churn.foo=1",
            r"^population.segments.core.churn.foo='1' .* expected one of a, b, c$",
        ),
        # below a value that is not a node: one line, not a TypeError from the schema's lookup
        ("population.sample_size.x.y=2", r"^population.sample_size=\{\} is not allowed: an integer \(got 'dict'\)$"),
    ],
)
def test_keys_below_a_map_entry_or_below_a_value_are_one_line_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        compose([override])


def test_a_plain_entry_of_a_defaults_list_is_checked(tmp_path):
    """``defaults: [config, base_values, _self_]``: base_values.yaml is no group choice, and was not read."""
    (tmp_path / "study.yaml").write_text("defaults:\n  - config\n  - base_values\n  - _self_\n")
    plain = tmp_path / "base_values.yaml"
    plain.write_text("record_events: 4\n")
    _refused_in(plain, "record_events=4", [], config_name="study", extra_dir=str(tmp_path))


@pytest.mark.parametrize("override", ["plan=quarter_growth", "plan@x=quarter_growth", "+plan=quarter_growth"])
def test_a_planner_preset_in_a_run_config_says_it_is_opsim_plans(override):
    """The Python API and ``opsim --cfg job plan=...`` advised +plan=..., which failed again."""
    key, _, value = override.lstrip("+").partition("=")
    with pytest.raises(ConfigError) as info:
        compose([override])
    assert str(info.value) == (
        f"{key}={value!r} is not allowed: a preset for opsim-plan (opsim-plan {key}={value}); opsim runs a strategy"
    )


def test_a_group_a_config_does_not_pick_is_named_for_that_config(tmp_path):
    """Only opsim's run config refuses plan= as opsim-plan's; another primary, or an override in a file, says why."""
    from sim.app.plan_config import register_plan_schema

    register_plan_schema()
    (tmp_path / "runstudy.yaml").write_text("defaults:\n  - config\n  - _self_\n")
    with pytest.raises(ConfigError) as info:
        compose(["plan=quarter_growth"], config_name="runstudy", extra_dir=str(tmp_path))
    assert str(info.value) == (
        "plan='quarter_growth' is not allowed: a group this config's defaults list picks from; "
        "to add one it does not: +plan=quarter_growth"
    )
    (tmp_path / "study2.yaml").write_text("defaults:\n  - config\n  - override plan: quarter_growth\n  - _self_\n")
    with pytest.raises(ConfigError) as info:  # it named key 'override' and value ''
        compose([], config_name="study2", extra_dir=str(tmp_path))
    assert (
        str(info.value)
        == "plan=None is not allowed: a group the defaults list picks from before the override (in study2)"
    )


def test_numpy_numbers_in_a_mapping_are_the_python_values_they_hold():
    """A notebook's numpy numbers are values, not an OmegaConf error ("'int64' is not a supported primitive type")."""
    cfg = load_config(
        {
            "horizon_days": np.int64(30),
            "economics.margin": np.float64(0.25),
            "record_events": np.False_,
            "economics.spend_response_multipliers": np.array([0.5, 2.0]),
            "population": {"market_size": np.int32(20_000)},
        }
    )
    assert (cfg.horizon_days, cfg.economics.margin, cfg.record_events) == (30, 0.25, False)
    assert type(cfg.horizon_days) is int and type(cfg.economics.margin) is float
    assert cfg.economics.spend_response_multipliers == [0.5, 2.0]
    assert cfg.population.market_size == 20_000


def test_a_numpy_nan_is_refused_as_a_python_nan_is():
    with pytest.raises(ConfigError, match=r"^economics.margin=nan is not allowed: a finite number$"):
        load_config({"economics.margin": np.float64("nan")})
    with pytest.raises(ConfigError, match=r"^horizon_days=0 is not allowed: a number >= 1"):
        load_config({"horizon_days": np.int64(0)})


@pytest.mark.parametrize(
    ("key", "given", "allowed"),
    [
        ("population.name", "", "a non-empty name (e.g. population.name=my_market)"),
        ("strategy.name", " ", "a non-empty name (e.g. strategy.name=my_strategy)"),
        ("economics.currency", "", "a non-empty currency, printed after every amount of money (e.g. USD)"),
    ],
)
def test_an_empty_name_or_currency_is_refused_in_one_line(key, given, allowed):
    """The log read "simulating : N = …" and money "revenue 7,250 " with nothing after."""
    expected = f"{key}={given!r} is not allowed: {allowed}"
    with pytest.raises(ConfigError) as info:
        load_config([f"{key}='{given}'"])
    assert str(info.value) == expected
    with pytest.raises(ConfigError) as info:
        load_config({key: given})
    assert str(info.value) == expected


@pytest.mark.parametrize(
    ("key", "given"), [("population.name", "m"), ("strategy.name", "s"), ("economics.currency", "€")]
)
def test_a_one_character_name_or_currency_is_taken(key, given):
    cfg = load_config({key: given})
    part, name = key.split(".")
    assert getattr(getattr(cfg, part), name) == given


@pytest.mark.parametrize(
    ("given", "read"), [(0, False), (1, True), ("1", True), ("YES", True), ("off", False), ("n", False)]
)
def test_a_mapping_takes_for_a_true_or_false_key_what_the_command_line_takes(given, read):
    cfg = load_config({"figures": given, "strategy": {"winback": {"enabled": given}}})
    assert (cfg.figures, cfg.strategy.winback.enabled) == (read, read)
    assert load_config([f"figures={given}"]).figures is read


@pytest.mark.parametrize("given", [2, -1, "2", "-1"])
def test_a_mapping_refuses_for_a_true_or_false_key_the_numbers_the_command_line_refuses(given):
    """``{"figures": 2}`` ran with the figures on (OmegaConf reads any whole number but 0 as true)."""
    for call, key, value in [
        (lambda: load_config({"figures": given}), "figures", given),
        (lambda: load_config({"strategy": {"winback": {"enabled": given}}}), "strategy.winback.enabled", given),
        (lambda: load_config(None, {"strategy__winback__enabled": given}), "strategy.winback.enabled", given),
        (lambda: load_config([f"figures='{given}'"]), "figures", str(given)),  # quoted: text on the command line
    ]:
        with pytest.raises(ConfigError) as info:
            call()
        assert str(info.value) == f"{key}={value!r} is not allowed: {BOOL_VALUES}"


def test_compose_checks_what_composing_checks_and_load_config_the_rest_as_opsim_cfg_job_does():
    """docs/python.md: compose refuses a wrong type; a range and a key added with + are load_config's."""
    with pytest.raises(ConfigError, match=r"^seed='abc' is not allowed: an integer"):
        compose(["seed=abc"])
    cfg = compose(["seed=-5"])
    assert cfg.seed == -5
    with pytest.raises(ConfigError, match=r"^seed=-5 is not allowed: a number >= 0$"):
        load_config(cfg)
    added = compose(["+foo=1"])
    assert added.foo == 1
    with pytest.raises(ConfigError, match=r"^foo=1 is not allowed: unknown key in the top level"):
        load_config(added)
