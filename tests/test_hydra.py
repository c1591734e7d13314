"""opsim inside other people's Hydra: pkg://sim.conf, a user's @hydra.main app, hydra.initialize(),
new map entries from the command line, `opsim --help`, and preset commands that work as printed."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import asdict
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from sim import ConfigError, compose, load_config, simulate
from sim.app.cli import main
from sim.app.config import config_dir, preset_run_command
from sim.levers.paid_ads import PaidAdsConfig
from sim.levers.viral_event import ViralEventConfig

QUICK = ["horizon_days=20", "population.market_size=2000", "figures=false", "progress=false"]
QUICK_ECONOMICS = ["economics.marginal_roi=false", "economics.spend_response_multipliers=[]"]


def _python(script: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    path = cwd / "user_app.py"
    path.write_text(textwrap.dedent(script))
    return subprocess.run(
        [sys.executable, str(path), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


# ------------------------------------------------------------------ pkg://sim.conf
def test_sim_conf_is_a_package_holding_opsims_config_tree():
    import importlib.resources

    files = importlib.resources.files("sim.conf")
    assert (files / "config.yaml").is_file()
    assert {p.name for p in (files / "population").iterdir()} >= {"consumer_app.yaml", "game.yaml"}


def test_simulate_and_compose_inside_a_users_hydra_main_app_with_opsims_presets_on_its_search_path(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "app.yaml").write_text(
        textwrap.dedent("""\
        defaults:
          - population: game          # found through pkg://sim.conf
          - _self_
        greeting: hello
        hydra:
          searchpath: [pkg://sim.conf]
          run: {dir: run_dir}
        """)
    )
    script = """
        import json
        import hydra
        from hydra.core.global_hydra import GlobalHydra
        from hydra.core.hydra_config import HydraConfig
        from omegaconf import OmegaConf
        from sim import compose, simulate

        @hydra.main(version_base=None, config_path="conf", config_name="app")
        def app(cfg):
            before = GlobalHydra.instance().hydra
            from_presets = simulate({"population": OmegaConf.to_container(cfg.population), "horizon_days": 20,
                                     "population.market_size": 2000, "progress": False})
            by_overrides = simulate(["population=game", "horizon_days=20", "population.market_size=2000",
                                     "progress=false"])
            composed = compose(["strategy=paid_growth"])
            print(json.dumps({
                "same_hydra": GlobalHydra.instance().hydra is before,
                "job_name": HydraConfig.get().job.name,
                "greeting": cfg.greeting,
                "population": from_presets.summary["population"],
                "same_result": from_presets.daily.equals(by_overrides.daily),
                "strategy": composed.strategy.name,
                "users_compose_still_works": hydra.compose("app").greeting,
            }))

        app()
    """
    proc = _python(script, tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {
        "same_hydra": True,
        "job_name": "user_app",
        "greeting": "hello",
        "population": "game",
        "same_result": True,
        "strategy": "paid_growth",
        "users_compose_still_works": "hello",
    }
    # Mesa's INFO line for every simulated day flooded the app's console and its log (40 here)
    shown = proc.stdout + proc.stderr + (tmp_path / "run_dir" / "user_app.log").read_text()
    assert "calling model.step" not in shown, shown[-2000:]


def test_simulate_inside_hydra_initialize_and_initialize_config_module(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "mine.yaml").write_text("horizon_days: 20\n")
    script = """
        import json
        from hydra import compose as hydra_compose, initialize, initialize_config_module
        from sim import compose, load_config, simulate

        out = {}
        with initialize(version_base=None, config_path="conf"):
            mine = hydra_compose("mine")
            result = simulate(["population=ecommerce", f"horizon_days={mine.horizon_days}",
                               "population.market_size=2000", "progress=false"])
            out["population"] = result.summary["population"]
            out["days"] = len(result.daily)
            out["mine_after"] = hydra_compose("mine").horizon_days
        with initialize_config_module(version_base=None, config_module="sim.conf"):
            cfg = hydra_compose("config", overrides=["population=game"])
            out["module_config"] = load_config(cfg).population.name
            out["opsim_compose"] = compose(["strategy=winback"]).strategy.name
        print(json.dumps(out))
    """
    proc = _python(script, tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {
        "population": "ecommerce",
        "days": 20,
        "mine_after": 20,
        "module_config": "game",
        "opsim_compose": "winback",
    }


def test_hydras_own_compose_of_sim_conf_works_as_docs_python_md_says(tmp_path):
    """A fresh process, docs/python.md's lines: Hydra could not load 'opsim_schema' before anything of opsim ran."""
    script = """
        import sim
        from hydra import compose, initialize_config_module

        sim.register_schema()
        with initialize_config_module(config_module="sim.conf", version_base=None):
            cfg = compose("config")  # opsim's whole default config
        print(sim.load_config(cfg).population.name)
    """
    proc = _python(script, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "consumer_app"


# ------------------------------------------------------------- new map entries
def test_add_a_channel_to_a_strategy_from_the_command_line():
    cfg = load_config(
        compose(
            [
                "strategy=paid_growth",
                "+add@strategy.paid_ads.tiktok=channel",
                "strategy.paid_ads.tiktok.daily_budget=100",
                "strategy.paid_ads.tiktok.cpm=5",
            ]
        )
    )
    assert list(cfg.strategy.paid_ads) == ["search", "social", "tiktok"]
    tiktok = cfg.strategy.paid_ads["tiktok"]
    assert (tiktok.daily_budget, tiktok.cpm) == (100, 5)
    assert asdict(tiktok) == asdict(PaidAdsConfig(daily_budget=100, cpm=5))  # everything else: the schema's defaults
    assert cfg.strategy.paid_ads["search"] == load_config(["strategy=paid_growth"]).strategy.paid_ads["search"]


def test_add_a_segment_and_a_viral_event_from_the_command_line():
    cfg = load_config(
        compose(
            [
                "+add@population.segments.whales=segment",
                "population.segments.whales.weight=0.02",
                "+add@strategy.viral_events.launch=viral_event",
                "strategy.viral_events.launch.day=3",
            ]
        )
    )
    assert list(cfg.population.segments) == ["casual", "core", "whales"]
    assert cfg.population.segments["whales"].weight == 0.02
    assert asdict(cfg.strategy.viral_events["launch"]) == asdict(ViralEventConfig(day=3))


@pytest.mark.parametrize(
    "override",
    ["+strategy.paid_ads.tiktok={daily_budget:100,cpm:5}", "strategy.paid_ads.tiktok.daily_budget=100"],
)
def test_the_direct_forms_say_how_to_add_an_entry(override):
    with pytest.raises(
        ConfigError, match=r"has no entry 'tiktok': create it first with \+add@strategy.paid_ads.tiktok=channel"
    ):
        compose([override])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # placed at the map itself: Hydra dropped the channel's keys without a word (paid_ads: {})
        (["+add@strategy.paid_ads=channel"], "+add@strategy.paid_ads='channel' is not allowed: a new entry of a map"),
        # at a misspelt map: the error said "strategy.paid_ad=None" and blamed conf/add/channel.yaml
        (
            ["+add@strategy.paid_ad.tiktok=channel"],
            "+add@strategy.paid_ad.tiktok='channel' is not allowed: a new entry",
        ),
        (
            ["+add=channel"],
            "+add='channel' is not allowed: a new entry of a map, with its name: +add@strategy.paid_ads",
        ),
        (
            ["+add@strategy.paid_ads.x=segment"],
            "+add@strategy.paid_ads.x='segment' is not allowed: a new entry of strategy.paid_ads: +add@strategy.paid_ads.x=channel",
        ),
        (
            ["+add@population.segments.x=channel"],
            "+add@population.segments.x='channel' is not allowed: a new entry of population.segments: "
            "+add@population.segments.x=segment",
        ),
        # a misspelt kind: "a add preset"
        (["+add@strategy.paid_ads.x=chanel"], "+add@strategy.paid_ads.x='chanel' is not allowed: a new entry of"),
        # one value for an entry that exists: the hint said to create it
        (
            ["strategy=paid_growth", "strategy.paid_ads.search=5"],
            "strategy.paid_ads.search='5' is not allowed: a channel is a mapping of its keys, not one value: set one "
            "with strategy.paid_ads.search.KEY=VALUE (KEY one of daily_budget,",
        ),
        # a key inside a mapping given whole: its value was shown as None
        (
            ["strategy.referral={enabled:true,foo:1}"],
            "strategy.referral.foo=1 is not allowed: unknown key in strategy.referral",
        ),
    ],
)
def test_new_entries_placed_wrong_and_values_given_whole_are_one_line_naming_what_was_given(overrides, message):
    with pytest.raises(ConfigError) as info:
        compose(overrides)
    assert str(info.value).startswith(message), str(info.value)
    assert "None" not in str(info.value) and "conf/add/" not in str(info.value)


def test_a_new_entrys_kind_given_as_several_values_is_named_as_given():
    """It printed the parser's object: "+add@strategy.paid_ads.x=ChoiceSweep(tags=set(), list=[...], ...)"."""
    from sim.app.config import parse_overrides

    with pytest.raises(ConfigError) as info:
        parse_overrides(["+add@strategy.paid_ads.x=channel,segment"])
    assert str(info.value).startswith("+add@strategy.paid_ads.x='channel,segment' is not allowed: a new entry of")


def test_each_map_takes_its_own_kind_of_new_entry():
    """The other side of the refusals: each entry placed in its own map, at a name."""
    from sim.app.config import MAP_ENTRY_KINDS

    for map_key, kind in MAP_ENTRY_KINDS.items():
        cfg = compose([f"+add@{map_key}.fresh={kind}"])
        assert "fresh" in OmegaConf.select(cfg, map_key), map_key


def test_a_run_with_an_added_channel_acquires_and_charges_through_it():
    overrides = ["+add@strategy.paid_ads.tiktok=channel", "strategy.paid_ads.tiktok.daily_budget=100"]
    result = simulate(load_config(compose([*overrides, *QUICK, *QUICK_ECONOMICS])))
    daily = result.daily
    assert daily["new_users_tiktok"].sum() > 0
    assert daily["cost_paid_ads_tiktok"].sum() == pytest.approx(100 * 20)  # budget x days


# -------------------------------------------------------------------- --help
def test_help_describes_the_tool_its_commands_presets_and_examples(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("opsim: agent-based user lifecycle simulator")
    for needed in (
        "population: consumer_app, ecommerce, game",
        "strategy: activation_push, balanced_mix, baseline, paid_growth",
        "add: channel, segment, viral_event",
        "opsim-calibrate",
        "opsim-report",
        "opsim-explore",
        "+add@strategy.paid_ads.tiktok=channel",
        "--config-dir $HOME/my_presets",  # written $$ in the template
    ):
        assert needed in text, needed
    assert len(text.splitlines()) < 50
    assert "weekly_visit_pattern" not in text  # no config dump
    assert "plan:" not in text  # the planner's presets, which opsim refuses


def test_opsim_plan_help_lists_the_plan_presets_opsims_help_leaves_out(capsys):
    from sim.app.plan import main as plan_main

    with pytest.raises(SystemExit) as done:
        plan_main(["--help"])
    assert done.value.code == 0
    assert "plan: quarter_growth" in capsys.readouterr().out


# --------------------------------------------------- own presets, printed commands
def test_preset_run_command_for_opsims_own_and_other_folders(tmp_path):
    assert preset_run_command(config_dir() / "population" / "game.yaml") == "opsim population=game"
    mine = tmp_path / "my presets" / "population" / "cal.yaml"
    assert preset_run_command(mine) == f"opsim --config-dir {shlex.quote(str(tmp_path / 'my presets'))} population=cal"
    loose = preset_run_command(tmp_path / "cal.yaml")
    assert loose.startswith("put cal.yaml in a folder named population/") and "--config-dir DIR population=cal" in loose


def test_the_printed_command_runs_a_preset_kept_outside_the_repository(tmp_path):
    preset = tmp_path / "my presets" / "population" / "cal.yaml"
    preset.parent.mkdir(parents=True)
    shutil.copy(config_dir() / "population" / "game.yaml", preset)
    command = shlex.split(preset_run_command(preset))
    assert command[0] == "opsim"
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "sim", *command[1:], *QUICK, f"hydra.run.dir={out}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    config = (out / "config.yaml").read_text()
    assert "tourists:" in config and "players:" in config  # the game preset's segments, from the copy


#: QUICK without the market's size, which the user's preset sets.
QUICK_OWN_MARKET = ["horizon_days=20", "figures=false", "progress=false"]


def _shadowing_presets(folder: Path) -> Path:
    """A user's folder with presets named as opsim's own: population ``game`` and strategy ``paid_growth``."""
    (folder / "population").mkdir(parents=True)
    (folder / "strategy").mkdir()
    game = (config_dir() / "population" / "game.yaml").read_text()
    (folder / "population" / "game.yaml").write_text(
        game.replace("market_size: 20000000", "market_size: 4321").replace("sample_size: 1000000", "sample_size: 4321")
    )
    assert "market_size: 4321" in (folder / "population" / "game.yaml").read_text()
    (folder / "strategy" / "paid_growth.yaml").write_text(
        "name: paid_growth\ndescription: mine\npaid_ads:\n  search:\n    daily_budget: 7\n"
    )
    return folder


def test_a_users_preset_named_as_opsims_own_is_the_one_used(tmp_path, monkeypatch):
    """README: own presets "override opsim's of the same name". Hydra searched opsim's conf/ first: they never did."""
    import hydra._internal.utils as hydra_utils

    mine = _shadowing_presets(tmp_path / "mine")
    cfg = load_config(compose(["population=game", "strategy=paid_growth"], extra_dir=str(mine)))
    assert cfg.population.market_size == 4321 and cfg.strategy.description == "mine"
    assert set(cfg.strategy.paid_ads) == {"search"} and cfg.strategy.paid_ads["search"].daily_budget == 7
    other = load_config(compose(["population=ecommerce"], extra_dir=str(mine)))  # not in the folder: opsim's
    assert other.population.market_size == load_config(compose(["population=ecommerce"])).population.market_size
    assert load_config(compose(["population=game"])).population.market_size == 20_000_000  # without the folder
    # the run itself (Hydra's own search path, in this process), and what it leaves behind
    build = hydra_utils.create_automatic_config_search_path
    monkeypatch.setattr(sys, "argv", ["opsim"])
    out = tmp_path / "run"
    main(
        [
            "--config-dir",
            str(mine),
            "population=game",
            "strategy=paid_growth",
            *QUICK_OWN_MARKET,
            f"hydra.run.dir={out}",
        ]
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["market_size"] == 4321
    assert summary["economics"]["cost_total"] == pytest.approx(7 * 20)  # 7 a day for 20 days, one channel
    assert hydra_utils.create_automatic_config_search_path is build  # Hydra's own builder put back


def test_a_sweep_with_a_config_dir_uses_the_users_presets_in_every_job(tmp_path):
    mine = _shadowing_presets(tmp_path / "mine")
    out = tmp_path / "sweep"
    joblib = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={out}"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "-m",
            "--config-dir",
            str(mine),
            "population=game",
            "seed=0,1",
            *QUICK_OWN_MARKET,
            *joblib,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    sizes = [json.loads(p.read_text())["market_size"] for p in sorted(out.glob("*/summary.json"))]
    assert sizes == [4321, 4321]


def test_exceptions_reach_the_caller_only_inside_the_block(monkeypatch):
    """HYDRA_FULL_ERROR is set inside (Hydra then re-raises instead of printing a trimmed traceback), restored after."""
    from sim.app.hydra_runner import exceptions_reach_caller

    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with exceptions_reach_caller():
        assert os.environ["HYDRA_FULL_ERROR"] == "1"
    assert "HYDRA_FULL_ERROR" not in os.environ
    monkeypatch.setenv("HYDRA_FULL_ERROR", "0")  # the user's own setting comes back, even after an error
    with pytest.raises(ZeroDivisionError), exceptions_reach_caller():
        assert os.environ["HYDRA_FULL_ERROR"] == "1"
        raise ZeroDivisionError
    assert os.environ["HYDRA_FULL_ERROR"] == "0"


def test_a_log_file_that_cannot_be_written_prints_no_logging_traceback_inside_the_block(capsys):
    import io
    import logging

    from sim.app.hydra_runner import quiet_logging_errors

    closed = io.StringIO()
    closed.close()  # writing to it raises, as a full disk does for a log file
    logger = logging.getLogger("opsim.test_quiet_logging")
    handler = logging.StreamHandler(closed)
    logger.addHandler(handler)
    try:
        before = logging.raiseExceptions
        with quiet_logging_errors():
            logger.error("lost")
        assert "Logging error" not in capsys.readouterr().err
        assert logging.raiseExceptions == before
        logging.raiseExceptions = True
        logger.error("lost again")  # outside the block logging reports it, as it always does
        assert "--- Logging error ---" in capsys.readouterr().err
    finally:
        logging.raiseExceptions = before
        logger.removeHandler(handler)
