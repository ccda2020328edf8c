"""Grad mode is per thread, as in PyTorch: ``no_grad`` (or a backward pass, which runs its rules
without recording) in one thread leaves recording on in every other thread."""

from __future__ import annotations

import threading

import numpy as np

import chainrule as cr
from chainrule import nn, optim


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    inside = threading.Event()
    release = threading.Event()
    seen: dict[str, object] = {}

    def quiet() -> None:
        with cr.no_grad():
            seen["quiet mode"] = cr.is_grad_enabled()
            inside.set()
            release.wait(10)

    def recording() -> None:
        inside.wait(10)  # while the other thread sits inside no_grad
        x = cr.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3.0
        seen["mode"] = cr.is_grad_enabled()
        seen["recorded"] = y.requires_grad and y.grad_fn is not None
        release.set()

    threads = [threading.Thread(target=quiet), threading.Thread(target=recording)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen == {"quiet mode": False, "mode": True, "recorded": True}
    assert cr.is_grad_enabled()


def test_a_new_thread_starts_in_grad_mode_whatever_the_main_thread_is_in():
    seen = []
    with cr.no_grad():
        t = threading.Thread(target=lambda: seen.append(cr.is_grad_enabled()))
        t.start()
        t.join(10)
        assert not cr.is_grad_enabled()
    assert seen == [True]


def _train(seed: int, barrier: threading.Barrier | None, lock: threading.Lock) -> list[np.ndarray]:
    with lock:  # the seeded initialisation draws from the one global generator
        cr.manual_seed(seed)
        rng = np.random.default_rng(seed)
        X = cr.tensor(rng.standard_normal((64, 3)))
        y = cr.tensor(rng.standard_normal((64, 1)))
        model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).to(cr.float64)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(30):
        if barrier is not None:
            barrier.wait(10)  # both threads step in lockstep: their passes interleave
        opt.zero_grad()
        loss = ((model(X) - y) ** 2).mean()
        loss.backward()
        with cr.no_grad():  # an evaluation in no_grad between steps, as a training loop does
            model(X)
        opt.step()
    return [p.detach().numpy().copy() for p in model.parameters()]


def test_two_threads_training_two_models_give_the_single_thread_results():
    lock = threading.Lock()
    expected = {seed: _train(seed, None, lock) for seed in (1, 2)}
    results: dict[int, list[np.ndarray]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(seed: int) -> None:
        try:
            results[seed] = _train(seed, barrier, lock)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    for seed in (1, 2):
        for got, want in zip(results[seed], expected[seed], strict=True):
            np.testing.assert_array_equal(got, want)
