"""Each lever moves the process it targets, in the expected direction, and nothing else.

Word of mouth is switched off (q = 0) in these tests so that one user's activity
cannot change another's awareness: with common random numbers every slot a lever
does not reach then has exactly the same history as in the baseline run.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sim import ConfigError, UserLifecycleModel, load_config
from sim.core.flags import FLAG_COUPON
from sim.core.lifecycle import Stage
from sim.core.rng import CHUNK_SIZE
from sim.levers.paid_ads import hill
from sim.levers.strategy import StrategyConfig

M, DAYS = 20_000, 90


def config(*overrides: str, days: int = DAYS, market: int = M):
    cfg = load_config(
        [
            f"population.market_size={market}",
            "population.awareness.p=0.01",
            "population.awareness.q=0",
            f"horizon_days={days}",
            *overrides,
        ]
    )
    return replace(cfg, progress=False, figures=False, agents="lazy")


def run(cfg) -> UserLifecycleModel:
    model = UserLifecycleModel(cfg)
    for _ in range(cfg.horizon_days):
        model.step()
    return model


@pytest.fixture(scope="module")
def baseline():
    return run(config())


def col(model, name):
    return model.log.columns[name]


# ---------------------------------------------------------------- acquisition
# 2000 a day at CPM 10 = 200,000 impressions = 10 per person of the 20,000 market; half effect at 5 per person
ADS = "+strategy.paid_ads={search:{daily_budget:2000,cpm:10,saturation:{max_hazard:0.01,half_saturation:5}}}"


def test_paid_ads_add_awareness_and_users_only_in_targeted_segments(baseline):
    ads = run(config(ADS, "strategy.paid_ads.search.target.segments=[core]"))
    assert col(ads, "new_users").sum() > col(baseline, "new_users").sum()
    assert col(ads, "new_users_search").sum() > 0
    core = ads.population.segment == ads.segments.names.index("core")
    # casual slots are not targeted: their whole history is unchanged
    assert np.array_equal(ads.population.acquired_day[~core], baseline.population.acquired_day[~core])
    assert np.array_equal(ads.population.habit[~core], baseline.population.habit[~core])
    assert set(np.unique(ads.population.segment[ads.population.channel == ads.channels.index("search")])) == {
        ads.segments.names.index("core")
    }


def test_paid_ads_cost_is_the_budget_on_scheduled_days():
    ads = run(config(ADS, "strategy.paid_ads.search.schedule={start_day:10,end_day:40,days_of_week:[0,2,4]}"))
    weekdays = (np.arange(DAYS) + ads.config.population.start_weekday) % 7
    on = (np.arange(DAYS) >= 10) & (np.arange(DAYS) <= 40) & np.isin(weekdays, [0, 2, 4])
    assert np.array_equal(col(ads, "cost_paid_ads_search"), np.where(on, 2000.0, 0.0))


def test_hill_response_is_concave_above_half_saturation():
    k, n, hmax = 100_000.0, 1.5, 0.01
    a = np.linspace(k, 20 * k, 400)
    e = hill(a, hmax, k, n)
    second = np.diff(e, 2)
    assert (second < 0).all()  # concave above K
    assert (hill(2 * a, hmax, k, n) < 2 * e).all()  # doubling spend less than doubles the response
    assert hill(k, hmax, k, n) == pytest.approx(hmax / 2)


def test_geometric_adstock_carries_over(baseline):
    ads = run(config(ADS, "strategy.paid_ads.search.schedule.end_day=20", "strategy.paid_ads.search.adstock.decay=0.5"))
    extra = col(ads, "awareness_hazard") - col(baseline, "awareness_hazard")
    assert extra[21] > 0 and extra[25] > 0  # still working after the spend stopped
    x = 1000 * 2000 / 10  # impressions per day
    lever = ads.levers[0]
    assert lever.adstock == pytest.approx(x * 2 * 0.5 ** (DAYS - 20), rel=1e-6)  # A_t = x/(1 − λ) · λ^(t − 20)


def test_viral_event_spike_decays_with_its_half_life(baseline):
    event = run(config("+strategy.viral_events={launch:{day:10,cost:5000,peak_hazard:0.02,half_life_days:4}}"))
    extra = col(event, "awareness_hazard") - col(baseline, "awareness_hazard")
    t = np.arange(DAYS)
    expected = np.where(t >= 10, 0.02 * 2.0 ** (-(t - 10) / 4), 0.0)
    assert np.allclose(extra, expected, atol=1e-7)
    assert col(event, "cost_viral_event_launch").sum() == 5000 and col(event, "cost_viral_event_launch")[10] == 5000


def test_referral_pays_both_sides_per_referred_user(baseline):
    cfg = config(
        "population.awareness.q=0.1",
        "strategy.referral.enabled=true",
        "strategy.referral.reward_referrer=1.5",
        "strategy.referral.reward_referee=0.5",
    )
    ref = run(cfg)
    referred = col(ref, "new_users_referral")
    assert referred.sum() > 0
    assert np.allclose(col(ref, "cost_referral"), 2.0 * referred)


# the referee's reward at its half-reward: m(R_r) = 1 + (3 − 1) · 1/2 = 2, so γ·m = 2γ exactly
REFERRAL_ENDS = 12  # the last day on
REFERRAL_RUN = (
    "population.awareness.q=0.1",
    "strategy.referral.enabled=true",
    "strategy.referral.invite_rate=0.5",
    "strategy.referral.conversion_multiplier=3.0",
    "strategy.referral.referee_half_reward=1.0",
    "strategy.referral.reward_referee=1.0",
)


def day_uniforms(model, stream: str, day: int) -> np.ndarray:
    """The model's uniforms of ``stream`` on ``day`` for every slot (draw chunk by draw chunk)."""
    n = model.sample_size
    return np.concatenate(
        [
            model.streams.uniforms(stream, day, k, min(CHUNK_SIZE, n - lo))
            for k, lo in enumerate(range(0, n, CHUNK_SIZE))
        ]
    )


@pytest.mark.parametrize(
    "ends", [f"strategy.referral.schedule.end_day={REFERRAL_ENDS}", f"strategy.spend_window.end_day={REFERRAL_ENDS}"]
)
def test_referred_friends_convert_at_the_referee_multiplier_only_on_the_days_they_are_rewarded(ends):
    """On a day on, an AWARE referral slot converts iff u < 2γ and each such conversion is a paid referral;
    on a day off (the schedule or the spend window ended) iff u < γ, and none is paid."""
    model = UserLifecycleModel(config(*REFERRAL_RUN, ends, days=REFERRAL_ENDS + 8))
    gamma = model.config.population.conversion_rate
    code = model.channels.index("referral")
    lever = next(lever for lever in model.levers if lever.kind == "referral")
    in_band = {True: 0, False: 0}  # γ <= u < 2γ among converted (on) or aware referral slots (off)
    for t in range(model.horizon):
        stage_before, referrals_before = model.population.stage.copy(), lever.referrals
        model.step()
        p = model.population
        became_aware = (stage_before == Stage.UNAWARE) & (p.stage != Stage.UNAWARE)
        candidates = (p.channel == code) & ((stage_before == Stage.AWARE) | became_aware)
        u = day_uniforms(model, "activity", t)
        on = t <= REFERRAL_ENDS
        rate = np.float32(2 * gamma if on else gamma)
        converted = p.acquired_day == t
        assert np.array_equal(converted & candidates, candidates & (u < rate)), f"day {t}"
        band = candidates & (u >= np.float32(gamma)) & (u < np.float32(2 * gamma))
        in_band[on] += int(np.count_nonzero(band & converted if on else band))
        referred = int(np.count_nonzero(converted & (p.channel == code)))
        assert lever.referrals - referrals_before == (referred if on else 0), f"day {t}"
        if t in (REFERRAL_ENDS, REFERRAL_ENDS + 1):  # both sides of the end see referral conversions
            assert referred > 0
    assert in_band[True] > 0 and in_band[False] > 0  # the multiplier decided who converted on both sides


def test_coupon_raises_conversion_costs_per_redemption_and_weakens_redeemers(baseline):
    coupon = run(config("strategy.new_user_coupon.enabled=true", "strategy.new_user_coupon.value=10"))
    assert col(coupon, "new_users").sum() > col(baseline, "new_users").sum()
    flagged = (coupon.population.flags & FLAG_COUPON) != 0
    acquired = int(col(coupon, "new_users").sum())
    # value 10 = half_value: P(redeem) = 0.8 · 10 / (10 + 10) = 0.4 of every user acquired while on;
    # binomial SE √(0.4 · 0.6 / n): 4 SE leaves room for the seed, not for a wrong formula
    share = flagged.sum() / acquired
    assert abs(share - 0.4) < 4 * np.sqrt(0.4 * 0.6 / acquired)
    assert col(coupon, "cost_new_user_coupon").sum() == pytest.approx(10.0 * flagged.sum())  # only redeemers pay
    theta0 = baseline.population.churn_hazard[flagged]  # traits at creation are the same slots' traits
    expected = np.minimum(theta0 * np.float32(1.2), np.float32(1))
    assert np.array_equal(coupon.population.churn_hazard[flagged], expected)


# ------------------------------------------------------------------ retention
def test_onboarding_lowers_early_churn_and_costs_per_new_user(baseline):
    onb = run(config("strategy.onboarding.enabled=true", "strategy.onboarding.hazard_multiplier=0.5"))
    assert np.array_equal(col(onb, "new_users"), col(baseline, "new_users"))  # acquisition untouched
    assert (col(onb, "latent_alive")[10:] >= col(baseline, "latent_alive")[10:]).all()
    assert col(onb, "latent_alive")[-1] > col(baseline, "latent_alive")[-1]
    assert np.allclose(col(onb, "cost_onboarding"), 1.0 * col(onb, "new_users"))


def test_content_raises_visits_for_a_daily_cost(baseline):
    content = run(config("strategy.content.enabled=true", "strategy.content.schedule.start_day=30"))
    assert np.array_equal(col(content, "dau")[:30], col(baseline, "dau")[:30])
    assert col(content, "dau")[30:].sum() > col(baseline, "dau")[30:].sum()
    assert np.array_equal(col(content, "cost_content"), np.where(np.arange(DAYS) >= 30, 500.0, 0.0))


def test_content_targeted_at_one_segment_leaves_the_other_alone(baseline):
    content = run(config("strategy.content.enabled=true", "strategy.content.target.segments=[core]"))
    casual = content.population.segment == content.segments.names.index("casual")
    assert np.array_equal(content.population.last_visit_day[casual], baseline.population.last_visit_day[casual])
    assert not np.array_equal(content.population.last_visit_day[~casual], baseline.population.last_visit_day[~casual])


# ----------------------------------------------------------------- activation
def third_month_dau(messages_per_week: float) -> float:
    """Mean DAU over days 61-90 with pushes all along."""
    cfg = config("strategy.push.enabled=true", f"strategy.push.messages_per_week={messages_per_week}", market=40_000)
    return float(col(run(cfg), "dau")[60:].mean())


def test_push_frequency_has_an_interior_optimum():
    dau = {f: third_month_dau(f) for f in (0, 1, 3, 7)}
    best = max(dau, key=dau.get)
    assert best not in (0, 7), dau  # some pushing helps, pushing every day hurts
    # The fall from the best frequency to daily pushes is well beyond day-to-day noise: under
    # common random numbers the paired difference of 30-day means moves by a few users at most.
    assert dau[7] < dau[best] - 20, dau


def test_users_acquired_today_are_not_pushed_that_day_but_rewarded_as_new_for_their_first_visit():
    """docs/model.md §9: today's converts are AWARE for visit_effects (push), NEW for on_visits (incentives).

    Push every day (f = 7: u < 1 always) with fatigue forgotten overnight (δ = 1): after a day
    F = 1 exactly for every user acquired before it, 0 for those acquired on it. Incentives
    targeted at stage ``new`` reward the day's visitors that are NEW when it looks: those NEW
    since yesterday's relabelling, and today's converts.
    """
    model = UserLifecycleModel(
        config(
            "population.awareness.q=0.1",
            "strategy.push.enabled=true",
            "strategy.push.messages_per_week=7",
            "strategy.push.fatigue_decay=1",
            "strategy.push.opt_out_per_fatigue=0",
            "strategy.incentives.enabled=true",
            "strategy.incentives.target.stages=[new]",
            days=15,
        )
    )
    push, incentives = (next(lv for lv in model.levers if lv.kind == kind) for kind in ("push", "incentives"))
    for t in range(model.horizon):
        stage_before, rewards_before = model.population.stage.copy(), incentives.rewards
        model.step()
        p = model.population
        today, earlier = p.acquired_day == t, (p.acquired_day >= 0) & (p.acquired_day < t)
        assert today.any() and (push.fatigue[today] == 0).all(), f"day {t}"
        assert (push.fatigue[earlier] == 1).all(), f"day {t}"
        visited = p.last_visit_day == t
        new = today | (stage_before == Stage.NEW)
        assert incentives.rewards - rewards_before == np.count_nonzero(visited & new), f"day {t}"


def test_push_costs_per_message_and_respects_targets(baseline):
    push = run(config("strategy.push.enabled=true", "strategy.push.target.stages=[dormant]"))
    lever = push.levers[0]
    assert col(push, "cost_push").sum() == pytest.approx(lever.messages * 0.002)
    assert lever.messages > 0


def test_incentives_lift_while_running_and_dip_after_they_stop(baseline):
    cfg = config("strategy.incentives.enabled=true", "strategy.incentives.schedule={start_day:20,end_day:50}")
    inc = run(cfg)
    dau, base = col(inc, "dau"), col(baseline, "dau")
    assert np.array_equal(dau[:20], base[:20])
    assert dau[20:51].sum() > base[20:51].sum()
    assert dau[52:66].sum() < base[52:66].sum()  # below baseline right after the stop
    assert col(inc, "cost_incentives").sum() == pytest.approx(inc.levers[0].rewards * 0.2)


def test_winback_brings_back_silent_users_only(baseline):
    wb = run(config("strategy.winback.enabled=true", "strategy.winback.silent_days=10"))
    lever = wb.levers[0]
    assert lever.returned > 0 and lever.resurrected > 0 and lever.contacts > lever.returned
    assert col(wb, "dau").sum() > col(baseline, "dau").sum()
    assert col(wb, "cost_winback").sum() == pytest.approx(lever.contacts * 0.05 + lever.returned * 2.0)
    # Nobody is contacted before anyone can have been silent for 10 days.
    assert np.array_equal(col(wb, "dau")[:10], col(baseline, "dau")[:10])


# -------------------------------------------------------------- bookkeeping
def test_winback_reads_the_stage_relabelled_the_day_before():
    """docs/model.md §9: silent_days = dormant_after_days = 14 contacts nobody at σ = 14 (still labelled
    by σ = 13), and every eligible user at σ = 15 (DORMANT since yesterday's relabelling; reach 1)."""
    model = UserLifecycleModel(
        config(
            "population=ecommerce",
            "population.lifecycle.dormant_after_days=14",
            "strategy=winback",
            "strategy.winback.silent_days=14",
            "strategy.winback.reach=1.0",
            days=40,
        )
    )
    k = model.config.population.lifecycle.dormant_after_days
    lever = model.levers[0]
    silent_at, contacted_at = {k: 0, k + 1: 0}, {k: 0, k + 1: 0}
    for t in range(model.horizon):
        p = model.population
        stage_before, contact_before = p.stage.copy(), lever.last_contact.copy()
        silence = t - p.last_visit_day.astype(int)
        model.step()
        contacted = lever.last_contact == t
        # acquired, silent today, not contacted within recontact_days: win-back's own conditions
        eligible = (p.acquired_day >= 0) & (t - contact_before.astype(int) >= lever.cfg.recontact_days)
        stayed_silent = p.last_visit_day != t  # contacted users who respond visit today
        for s in (k, k + 1):
            at = eligible & (silence == s)
            silent_at[s] += int(np.count_nonzero(at & stayed_silent))
            contacted_at[s] += int(np.count_nonzero(at & contacted))
            if s == k + 1:  # DORMANT since yesterday, so every one of them is contacted
                assert (stage_before[at] == Stage.DORMANT).all()
                assert (contacted[at & stayed_silent]).all(), f"day {t}"
    assert silent_at[k] > 0 and contacted_at[k] == 0
    assert contacted_at[k + 1] >= silent_at[k + 1] > 0


def test_strategy_that_changes_nothing_equals_baseline_exactly(baseline):
    idle = run(
        config(
            "+strategy.paid_ads={search:{daily_budget:0}}",
            "strategy.push.enabled=true",
            "strategy.push.messages_per_week=0",
            "strategy.content.enabled=true",
            "strategy.content.hazard_multiplier=1",
            "strategy.content.visit_multiplier=1",
        )
    )
    for name, values in baseline.log.columns.items():
        assert np.array_equal(col(idle, name), values), name
    assert np.array_equal(idle.cohort_active, baseline.cohort_active)


def test_total_cost_is_the_sum_of_lever_costs_to_the_cent():
    model = run(config("strategy=balanced_mix", days=150))
    costs = {k: v for k, v in model.log.columns.items() if k.startswith("cost_") and k != "cost_total"}
    assert len(costs) == len(model.levers) == 9
    total = sum(round(float(v.sum()), 2) for v in costs.values())
    assert round(float(model.log.columns["cost_total"].sum()), 2) == pytest.approx(total, abs=0.01)
    assert all((v >= 0).all() for v in costs.values())


def test_reference_stepping_refuses_levers():
    with pytest.raises(ValueError, match="reference stepping implements the organic model only"):
        UserLifecycleModel(config("strategy=winback", market=1000), reference=True)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "+strategy.paid_ads={search:{daily_budget:-5}}",
            r"strategy.paid_ads.search.daily_budget=-5 is not allowed: a number >= 0",
        ),
        (
            "strategy.push.schedule={start_day:50,end_day:10}",
            r"strategy.push.schedule.end_day=10 is not allowed: a day >= strategy.push.schedule.start_day=50",
        ),
        (
            "strategy.push.target.stages=[sleeping]",
            r"strategy.push.target.stages\[0\]='sleeping' .* one of new, retained",
        ),
        (
            "strategy.content.target.segments=[whales]",
            r"segments\[0\]='whales' .* a segment of the population: casual, core",
        ),
        ("strategy.winback.target.channels=[tv]", r"channels\[0\]='tv' .* an acquisition channel"),
        (
            "+strategy.paid_ads={organic:{daily_budget:1}}",
            r"strategy.paid_ads.organic='organic' .* a channel name other than",
        ),
        ("strategy.push.messages_per_week=10", r"messages_per_week=10 .* <= 7"),
        ("strategy.push.schedule.days_of_week=[8]", r"days_of_week\[0\]=8 .* a weekday 0 \(Monday\)"),
        ("+strategy.paid_ads={s:{adstock:{kind:weekly}}}", r"adstock.kind='weekly' .* one of geometric, delayed"),
        ("strategy.winback.max_silent_days=5", r"max_silent_days=5 .* >= strategy.winback.silent_days"),
    ],
)
def test_bad_lever_config_fails_before_running(override, message):
    with pytest.raises(ConfigError, match=message):
        config(override, "strategy.push.enabled=true", "strategy.content.enabled=true", "strategy.winback.enabled=true")


def test_empty_strategy_is_the_baseline():
    assert load_config(["strategy=baseline"]).strategy == StrategyConfig(
        name="baseline", description=load_config(["strategy=baseline"]).strategy.description
    )
