"""The shared training loop: it learns, it is seeded, it resumes exactly, it checkpoints atomically, EMA and best-state."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from emogen.training import EpochSampler, FitConfig, fit, latest_checkpoint
from emogen.training.loop import LOOP_STATE_FILE

X = torch.randn(256, 4, generator=torch.Generator().manual_seed(123))
Y = X @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.5


class Interrupt(RuntimeError):
    """Raised to simulate a run killed mid-way."""


def make_model() -> nn.Module:
    """A tiny regressor with dropout, so the framework RNG matters too."""
    model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.1), nn.ReLU(), nn.Linear(16, 1))
    with torch.no_grad():
        gen = torch.Generator().manual_seed(7)
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    return model


def make_step(model: nn.Module, sampler: EpochSampler | None = None, stop_at: int | None = None):
    """A step function drawing batches (and a little input noise) from the fit generator."""

    def step(i: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        if stop_at is not None and i == stop_at:
            raise Interrupt
        idx = torch.tensor(sampler.next(gen)) if sampler is not None else torch.randint(0, len(X), (32,), generator=gen)
        x = X[idx] + 0.01 * torch.randn(len(idx), 4, generator=gen)
        loss = ((model(x) - Y[idx]) ** 2).mean()
        return {"loss": loss, "batch": torch.tensor(float(len(idx)))}

    return step


def weights(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.state_dict().values()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


CONFIG = FitConfig(steps=30, lr=5e-2, weight_decay=1e-4, max_grad_norm=1.0, pct_start=0.2, log_every=10, seed=3, desc="test")


def test_fit_decreases_the_loss():
    model = make_model()
    result = fit(model, make_step(model), CONFIG, quiet=True)
    assert result.history[0]["step"] == 1 and result.history[-1]["step"] == 30
    assert result.history[-1]["loss"] < 0.3 * result.history[0]["loss"]
    assert len(result.trace["loss"]) == 30 and result.trace["batch"][0] == 32.0
    assert not model.training


def test_same_seed_same_weights_other_seed_other_weights():
    runs = []
    for seed in (3, 3, 4):
        model = make_model()
        fit(model, make_step(model), FitConfig(**{**CONFIG.__dict__, "seed": seed}), quiet=True)
        runs.append(weights(model))
    assert same(runs[0], runs[1])
    assert not same(runs[0], runs[2])


def test_fit_leaves_the_global_rng_alone():
    model = make_model()
    before = torch.get_rng_state()
    fit(model, make_step(model), FitConfig(steps=3, lr=1e-2), quiet=True)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("ema_decay", [None, 0.9])
def test_resume_after_an_interruption_gives_the_same_weights(tmp_path, ema_decay):
    config = FitConfig(**{**CONFIG.__dict__, "checkpoint_every": 10, "ema_decay": ema_decay})
    reference = make_model()
    sampler = EpochSampler(len(X), 48)  # epochs (6 steps) do not line up with checkpoints
    fit(reference, make_step(reference, sampler), config, stateful=[sampler], quiet=True)

    model, sampler = make_model(), EpochSampler(len(X), 48)
    with pytest.raises(Interrupt):
        fit(model, make_step(model, sampler, stop_at=25), config, checkpoint_dir=tmp_path, stateful=[sampler], quiet=True)
    assert latest_checkpoint(tmp_path).name == "step-0000020"

    model, sampler = make_model(), EpochSampler(len(X), 48)  # a fresh process: new model, new sampler
    result = fit(model, make_step(model, sampler), config, checkpoint_dir=tmp_path, resume=True, stateful=[sampler], quiet=True)
    assert result.resumed_from == 20
    assert len(result.trace["loss"]) == 30  # the trace before the interruption came back too
    assert same(weights(model), weights(reference))

    # a finished run resumes as done, with the same weights and no further step
    again = make_model()
    calls = []
    done = fit(again, lambda i, g: calls.append(i), config, checkpoint_dir=tmp_path, resume=True, stateful=[EpochSampler(len(X), 48)], quiet=True)
    assert calls == [] and done.resumed_from == 30
    assert same(weights(again), weights(reference))


def test_a_resumed_stage_reports_the_training_time_of_every_run(tmp_path):
    """A recipe resumed after its stage finished (or was interrupted) still reports what the stage took."""
    import time

    from emogen.training.recipe import TrainRun

    config = FitConfig(**{**CONFIG.__dict__, "checkpoint_every": 10})

    def slow(step_fn):
        def step(i, g):
            time.sleep(0.02)
            return step_fn(i, g)
        return step

    first = TrainRun(checkpoint_dir=tmp_path)
    model = make_model()
    with pytest.raises(Interrupt), first.timed("stage"):
        first.fit("stage", model, slow(make_step(model, stop_at=25)), config, quiet=True)
    resumed = TrainRun(checkpoint_dir=tmp_path, resume=True)
    model = make_model()
    with resumed.timed("total"), resumed.timed("stage"):
        result = resumed.fit("stage", model, slow(make_step(model)), config, quiet=True)
    assert result.resumed_from == 20 and result.earlier_seconds >= 20 * 0.02
    assert resumed.minutes["stage"] * 60 >= 30 * 0.02 and resumed.minutes["total"] >= resumed.minutes["stage"]
    assert result.history[-1]["seconds"] >= 30 * 0.02  # the log's clock runs on across the resume

    done = TrainRun(checkpoint_dir=tmp_path, resume=True)  # finished: loads as done, still reports its time
    with done.timed("stage"):
        again = done.fit("stage", make_model(), lambda i, g: None, config, quiet=True)
    assert again.resumed_from == 30 and done.minutes["stage"] * 60 >= 30 * 0.02


def test_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    model = make_model()
    config = FitConfig(**{**CONFIG.__dict__, "checkpoint_every": 10})
    fit(model, make_step(model), config, checkpoint_dir=tmp_path, quiet=True)
    assert [p.name for p in tmp_path.iterdir()] == ["step-0000030"]  # older ones replaced, no temporary left
    assert (tmp_path / "step-0000030" / LOOP_STATE_FILE).is_file()

    # a save that dies half-way leaves the previous checkpoint as the one to resume from
    from accelerate import Accelerator

    def broken_save(self, output_dir, **kwargs):
        Path(output_dir).mkdir(parents=True)
        (Path(output_dir) / "model.safetensors").write_bytes(b"half")
        raise OSError("disk full")

    model = make_model()
    with pytest.raises(Interrupt):
        fit(model, make_step(model, stop_at=15), config, checkpoint_dir=tmp_path / "b", quiet=True)
    monkeypatch.setattr(Accelerator, "save_state", broken_save)
    model = make_model()
    with pytest.raises(OSError, match="disk full"):
        fit(model, make_step(model), config, checkpoint_dir=tmp_path / "b", resume=True, quiet=True)
    assert latest_checkpoint(tmp_path / "b").name == "step-0000010"


def test_resume_refuses_a_changed_config(tmp_path):
    model = make_model()
    fit(model, make_step(model), FitConfig(steps=5, lr=1e-2), checkpoint_dir=tmp_path, quiet=True)
    with pytest.raises(ValueError, match="config differs"):
        fit(model, make_step(model), FitConfig(steps=5, lr=2e-2), checkpoint_dir=tmp_path, resume=True, quiet=True)


def test_ema_changes_the_final_weights():
    plain, averaged = make_model(), make_model()
    fit(plain, make_step(plain), CONFIG, quiet=True)
    fit(averaged, make_step(averaged), FitConfig(**{**CONFIG.__dict__, "ema_decay": 0.9}), quiet=True)
    assert not same(weights(plain), weights(averaged))
    loss = lambda m: float(((m(X) - Y) ** 2).mean().detach())  # noqa: E731
    assert loss(averaged) < 2 * loss(plain) + 0.1  # an average of good weights, not noise


def test_validate_keeps_the_best_weights():
    model = make_model()
    scores = iter([0.1, 0.9, 0.3])  # best at the second validation (step 20)
    snapshots = {}

    def validate() -> float:
        snapshots[len(snapshots)] = weights(model)
        return next(scores)

    result = fit(model, make_step(model), CONFIG, validate=validate, validate_every=10, quiet=True)
    assert result.validation == [(10, 0.1), (20, 0.9), (30, 0.3)]
    assert (result.best_score, result.best_step) == (0.9, 20)
    assert same(weights(model), snapshots[1])


def test_fit_rejects_a_diverging_loss():
    model = make_model()
    with pytest.raises(FloatingPointError, match="step 1"):
        fit(model, lambda i, g: {"loss": model(X).sum() * float("nan")}, FitConfig(steps=2, lr=1e-2), quiet=True)


def test_hand_written_card_sections_survive_a_retrain():
    from emogen.training.recipe import KEPT_SECTION_MARK, with_kept_sections

    card = "# Model\n\n## Scores\nnew\n\n## Limits\nsome\n"
    previous = f"# Model\n\n## Scores\nold\n\n## Benchmark ({KEPT_SECTION_MARK})\n| a | b |\n\n## Limits\nsome\n"
    merged = with_kept_sections(card, previous)
    assert merged == f"# Model\n\n## Scores\nnew\n\n## Benchmark ({KEPT_SECTION_MARK})\n| a | b |\n\n## Limits\nsome\n"
    assert with_kept_sections(card, "# Model\n\n## Scores\nold\n") == card  # nothing hand-written: the new card
    assert with_kept_sections("# Model\n", previous).endswith(f"## Benchmark ({KEPT_SECTION_MARK})\n| a | b |\n\n")
