"""Composed configs are kept for the process: each caller gets its own copy, an edited preset is read again."""

from __future__ import annotations

import shutil

import pytest
from omegaconf import OmegaConf

from sim import ConfigError, compose, load_config
from sim.app.config import COMPOSED, config_dir
from sim.app.config_cache import ComposeCache, config_files_digest


@pytest.fixture
def preset_dir(tmp_path):
    """A config folder with one population preset of its own (a copy of consumer_app)."""
    (tmp_path / "population").mkdir()
    shutil.copy(config_dir() / "population" / "consumer_app.yaml", tmp_path / "population" / "mine.yaml")
    return tmp_path


def test_a_second_composition_is_a_hit_equal_to_the_first():
    first = compose(["population=game", "seed=4"])
    hits = COMPOSED.hits
    second = compose(["population=game", "seed=4"])
    assert COMPOSED.hits == hits + 1
    assert OmegaConf.to_container(second) == OmegaConf.to_container(first)
    assert OmegaConf.get_type(second) is OmegaConf.get_type(first)


def test_callers_do_not_see_each_others_changes():
    mine = compose(["population=game", "seed=5"])
    mine.population.market_size = 7
    mine.seed = 99
    theirs = compose(["population=game", "seed=5"])  # a hit
    assert theirs.seed == 5 and theirs.population.market_size != 7
    theirs.population.market_size = 8
    assert compose(["population=game", "seed=5"]).population.market_size not in (7, 8)  # the next hit is whole
    typed = load_config(["population=game", "seed=5"])
    typed.population.segments.clear()
    assert load_config(["population=game", "seed=5"]).population.segments
    with_hydra = compose(["seed=5"], with_hydra=True)
    with_hydra.hydra.job.name = "changed"
    assert compose(["seed=5"], with_hydra=True).hydra.job.name == "opsim"


def test_an_edited_preset_is_composed_again(preset_dir):
    path = preset_dir / "population" / "mine.yaml"
    before = compose(["population=mine"], extra_dir=str(preset_dir))
    text = path.read_text()
    assert "market_size: 1000000" in text
    path.write_text(text.replace("market_size: 1000000", "market_size: 1000001"))  # same mtime second, +1 byte
    after = compose(["population=mine"], extra_dir=str(preset_dir))
    assert (before.population.market_size, after.population.market_size) == (1_000_000, 1_000_001)
    path.write_text(text.replace("market_size: 1000000", "market_size: 2000000"))  # same size
    assert compose(["population=mine"], extra_dir=str(preset_dir)).population.market_size == 2_000_000


def test_a_preset_made_bad_after_a_good_composition_fails_with_one_line(preset_dir):
    path = preset_dir / "population" / "mine.yaml"
    compose(["population=mine"], extra_dir=str(preset_dir))
    path.write_text(path.read_text().replace("market_size: 1000000", "market_size: many"))
    with pytest.raises(ConfigError, match=r"population\.market_size"):
        load_config(compose(["population=mine"], extra_dir=str(preset_dir)))


def test_a_new_preset_file_is_found(preset_dir):
    with pytest.raises(ConfigError, match="population"):
        compose(["population=other"], extra_dir=str(preset_dir))
    shutil.copy(preset_dir / "population" / "mine.yaml", preset_dir / "population" / "other.yaml")
    assert compose(["population=other"], extra_dir=str(preset_dir)).population.name == "consumer_app"


def test_a_preset_found_through_a_config_files_own_searchpath_is_read_again_when_edited(tmp_path, preset_dir):
    """No call names the folder of ``mine.yaml``: only the primary config's ``hydra.searchpath`` does."""
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.yaml").write_text(
        "defaults:\n  - config\n  - override population: mine\n  - _self_\n"
        f"hydra:\n  searchpath:\n    - file://{preset_dir}\n"
    )
    path = preset_dir / "population" / "mine.yaml"
    text = path.read_text()
    before = compose([], config_name="study", extra_dir=str(study))
    path.write_text(text.replace("market_size: 1000000", "market_size: 1000001"))
    after = compose([], config_name="study", extra_dir=str(study))
    with_value = compose(["seed=3"], config_name="study", extra_dir=str(study))  # values on the kept presets
    assert (before.population.market_size, after.population.market_size) == (1_000_000, 1_000_001)
    assert (with_value.population.market_size, with_value.seed) == (1_000_001, 3)
    hits = COMPOSED.hits
    assert compose([], config_name="study", extra_dir=str(study)).population.market_size == 1_000_001
    assert COMPOSED.hits == hits + 1  # unchanged, so kept


def test_the_digest_covers_names_and_contents_and_skips_other_files(tmp_path):
    (tmp_path / "a.yaml").write_text("x: 1\n")
    first = config_files_digest([tmp_path])
    (tmp_path / "notes.txt").write_text("not a config")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "b.yaml").write_text("y: 2\n")
    assert config_files_digest([tmp_path]) == first
    (tmp_path / "a.yaml").write_text("x: 2\n")
    assert config_files_digest([tmp_path]) != first
    (tmp_path / "a.yaml").write_text("x: 1\n")
    (tmp_path / "a.yaml").rename(tmp_path / "c.yaml")
    assert config_files_digest([tmp_path]) != first


def test_the_least_recently_used_config_is_dropped_first():
    cache = ComposeCache(maxsize=2)
    one, two, three = (OmegaConf.create({"n": n}) for n in (1, 2, 3))
    cache.put("one", one)
    cache.put("two", two)
    assert cache.get("one").n == 1  # now "two" is the least recently used
    cache.put("three", three)
    assert len(cache) == 2 and cache.get("two") is None
    assert cache.get("three").n == 3 and cache.get("one").n == 1
    kept = cache.get("one")
    kept.n = 10
    assert cache.get("one").n == 1
    cache.clear()
    assert len(cache) == 0 and cache.get("one") is None


def test_the_folders_a_call_searched_are_remembered_for_as_many_calls_as_configs_kept(tmp_path):
    cache = ComposeCache(maxsize=2)
    assert cache.folders_searched("a") == ()
    cache.note_folders_searched("a", [tmp_path / "x"])
    cache.note_folders_searched("b", [str(tmp_path / "y")])
    assert cache.folders_searched("a") == (tmp_path / "x",)
    cache.note_folders_searched("a", [tmp_path / "z"])  # "b" is now the least recently noted
    cache.note_folders_searched("c", [])
    assert cache.folders_searched("b") == () and cache.folders_searched("a") == (tmp_path / "z",)
    cache.clear()
    assert cache.folders_searched("a") == ()


#: Calls that change values only (plus the preset choices they build on), errors included.
VALUE_CALLS = [
    ["seed=3"],
    ["population=game", "population.market_size=5000", "seed=2"],
    ["+add@strategy.paid_ads.tiktok=channel", "strategy.paid_ads.tiktok.daily_budget=100"],
    ["strategy=paid_growth", "strategy.paid_ads.search.daily_budget=2000"],
    ["strategy=paid_growth", "~strategy.paid_ads"],  # refused: a schema node cannot be deleted
    ["population.awareness.p=abc"],  # refused: not a number
    ["population.nosuch=1"],  # refused: unknown key
    ["+population.colour=red"],  # added here, refused by load_config
    ["seed=1", "seed=2"],  # the last one wins
    ["population={market_size: 5000}"],  # a mapping is a value, not a preset
    ["~seed"],
]


def _outcome(call):
    try:
        return OmegaConf.to_container(call())
    except ConfigError as exc:
        return f"error: {exc}"


@pytest.mark.parametrize("overrides", VALUE_CALLS, ids=lambda o: " ".join(o))
def test_values_applied_to_the_kept_presets_equal_a_whole_hydra_composition(overrides, monkeypatch):
    from sim.app import config

    config.register_schema()  # what compose() does first; _compose() alone expects it done
    whole = _outcome(lambda: config._compose(overrides, "config", None, False, [config_dir()])[0])
    COMPOSED.clear()
    compose(["seed=0"])  # the presets are kept; the call below applies its values to a copy
    composed_whole = []
    original = config._compose
    monkeypatch.setattr(config, "_compose", lambda o, *a: composed_whole.append(o) or original(o, *a))
    assert _outcome(lambda: compose(overrides)) == whole
    assert overrides not in composed_whole  # only the preset choices (if new) were composed by Hydra


def test_hydra_settings_and_sweeps_are_composed_the_whole_way(monkeypatch):
    from sim.app import config

    composed_whole = []
    original = config._compose
    monkeypatch.setattr(config, "_compose", lambda o, *a: composed_whole.append(list(o)) or original(o, *a))
    compose(["seed=5", "hydra.run.dir=/tmp/x"])
    assert ["seed=5", "hydra.run.dir=/tmp/x"] in composed_whole
    compose(["seed=6"], with_hydra=True)
    assert ["seed=6"] in composed_whole


def test_the_store_key_follows_content_so_a_store_restored_from_a_pickle_is_the_same_store():
    """Hydra's joblib launcher restores the ConfigStore from a pickle before each job."""
    import cloudpickle
    from hydra.core.config_store import ConfigStore
    from hydra.core.singleton import Singleton

    from sim.app.config_cache import store_digest

    compose(["seed=0"])
    before = store_digest()
    state = Singleton.get_state()
    try:
        Singleton.set_state(cloudpickle.loads(cloudpickle.dumps(state)))  # new node objects, same content
        assert store_digest() == before
        ConfigStore.instance().store(name="opsim_test_extra", node={"x": 1})
        changed = store_digest()
        assert changed != before
        ConfigStore.instance().store(name="opsim_test_extra", node={"x": 2})  # same name, other content
        assert store_digest() not in (before, changed)
    finally:
        Singleton.set_state(state)
    assert store_digest() == before


def test_a_new_cache_counts_its_misses_and_hits_from_zero():
    cache = ComposeCache()
    assert (cache.hits, cache.misses) == (0, 0)
    assert cache.get("k") is None  # one miss
    cache.put("k", OmegaConf.create({"n": 1}))
    cache.get("k")
    cache.get("k")  # two hits
    assert (cache.hits, cache.misses) == (2, 1)


def test_get_or_compose_composes_a_key_once_and_hands_out_private_copies():
    cache = ComposeCache()
    calls: list[int] = []

    def compose_next():
        calls.append(1)
        return OmegaConf.create({"n": len(calls)})

    first = cache.get_or_compose("k", compose_next)
    assert first.n == 1 and len(calls) == 1
    first.n = 10  # the first caller's own config
    again = cache.get_or_compose("k", compose_next)
    assert again.n == 1 and len(calls) == 1  # kept: not composed again
    again.n = 20
    assert cache.get_or_compose("k", compose_next).n == 1
    assert cache.get_or_compose("other", compose_next).n == 2 and len(calls) == 2
