"""Small dynamical systems with known DSA answers, shared by the DSA tests."""

import numpy as np


def tanh_network(units=8, trials=10, steps=100, gain=1.2, seed=0, noise=0.01):
    """Trajectories ``[trials, steps, units]`` of a random tanh RNN driven by small noise."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((units, units)) * gain / np.sqrt(units)
    x = rng.standard_normal((trials, units))
    out = []
    for _ in range(steps):
        x = np.tanh(x @ w.T) + noise * rng.standard_normal((trials, units))
        out.append(x)
    return np.stack(out, 1)


def random_rotation(n, seed):
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def matched_attractors(kind, seed=0, conditions=6, trials=100, steps=60, units=6, noise=0.03):
    """Trajectories whose condition averages are the same for every ``kind``.

    Each trial is a shared condition mean ``μ_c(t)`` (a decaying spiral starting at angle
    2πc/conditions) plus fluctuations ``δ`` with ``δ₀ = 0`` and ``δ_{t+1} = M δ_t + ε``,
    zero-mean: the condition average is ``μ_c`` whatever ``M``. ``M`` is the linearisation
    of a point attractor (both directions contract), a line attractor (one marginal
    direction) or a ring (a slow rotation at the margin). Embedded in ``units`` units by
    one fixed orthogonal map.
    """
    rng = np.random.default_rng(seed)
    m = {
        "point": np.diag([0.6, 0.6]),
        "line": np.diag([1.0, 0.6]),
        "ring": 0.999 * np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]]),
    }[kind]
    embed = random_rotation(units, 123)[:, :2]  # the same for every kind
    rot = 0.97 * np.array([[np.cos(0.15), -np.sin(0.15)], [np.sin(0.15), np.cos(0.15)]])
    out = np.zeros((conditions, trials, steps, 2))
    for c in range(conditions):
        mu = np.array([np.cos(2 * np.pi * c / conditions), np.sin(2 * np.pi * c / conditions)])
        delta = np.zeros((trials, 2))
        for t in range(steps):
            out[c, :, t] = mu + delta
            mu = rot @ mu
            delta = delta @ m.T + noise * rng.standard_normal((trials, 2))
    x = out.reshape(conditions * trials, steps, 2) @ embed.T
    return x, out.mean(1)  # trajectories [trials, steps, units], condition averages
