"""The broad pretraining set's drawn classes: 18 shapes and 16 objects made of parts (parts.py frames).

Each entry maps a class name to `draw(rng) -> (parts, styles, cylinders)`, with proportions jittered per
instance. None of them is a class, or a look-alike of a class, of the demo set, the photo-objects benchmark
or the everyday benchmark (tests/synth check the names), and none is one of their distractors.
"""
from __future__ import annotations

import numpy as np

from .parts import arc, ell, line, poly, rect, ring, rrect


def _j(rng, v, rel=0.12):
    """v jittered by up to +-rel of itself."""
    return v * rng.uniform(1 - rel, 1 + rel)


def _heart_points(flip: bool = False) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    x, y = 16 * np.sin(t) ** 3, -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    p = np.stack([x, y - 2.5], 1) / 15
    return p * [1, -1] if flip else p


def _gear(rng):
    n, parts = int(rng.integers(6, 11)), [ell(0, 0, 0.72, 0.72)]
    for a in np.arange(n) * 2 * np.pi / n:
        c, s = np.cos(a), np.sin(a)
        tooth = np.array([[0.6, -0.13], [1.0, -0.1], [1.0, 0.1], [0.6, 0.13]])
        parts.append(poly(tooth @ np.array([[c, s], [-s, c]])))
    return parts + [ell(0, 0, _j(rng, 0.25), _j(rng, 0.25), -1)], ["any"], ()


def _flower(rng):
    n = int(rng.integers(5, 8))
    petals = [ell(0.5 * np.cos(a), 0.5 * np.sin(a), 0.48, _j(rng, 0.24), 0, np.degrees(a))
              for a in np.arange(n) * 2 * np.pi / n]
    return petals + [ell(0, 0, 0.3, 0.3, 1)], ["any", "warm"], ()


def _shield(rng):
    t = np.linspace(0, 1, 12)[:, None]
    right = (1 - t) ** 2 * [0.8, 0.05] + 2 * t * (1 - t) * [0.75, 0.7] + t ** 2 * [0, 1]
    pts = np.vstack([[[-0.8, -0.9], [0.8, -0.9]], right, right[::-1] * [-1, 1]])
    return [poly(pts), rect(-0.12, -0.9, 0.12, 1.0, 1)] if rng.random() < 0.5 else [poly(pts)], ["any", "any"], ()


def _spiral(rng):
    t = np.linspace(0, _j(rng, 2.5) * 2 * np.pi, 90)
    r = 0.08 + 0.85 * t / t[-1]
    return [line(np.stack([r * np.cos(t), r * np.sin(t)], 1), 0.15)], ["any"], ()


def _house(rng):
    roof = _j(rng, 0.1, 0.5)
    body = poly([[-0.75, 1], [0.75, 1], [0.75, -roof], [0, -0.9], [-0.75, -roof]])
    return [body, rect(-0.18, 0.4, 0.18, 1.0, 1), rect(0.3, 0.1, 0.55, 0.35, 1)], ["any", "dark"], ()


SHAPES = {
    "heart": lambda rng: ([poly(_heart_points())], ["any"], ()),
    "spade": lambda rng: ([poly(_heart_points(True)), poly([[0, 0.3], [-0.3, 0.95], [0.3, 0.95]])], ["any"], ()),
    "club": lambda rng: ([ell(0, -0.45, 0.36, 0.36), ell(-0.42, 0.1, 0.36, 0.36), ell(0.42, 0.1, 0.36, 0.36),
                          ell(0, 0, 0.25, 0.25), poly([[0, 0.1], [-0.3, 0.95], [0.3, 0.95]])], ["any"], ()),
    "bolt": lambda rng: ([poly([[0.2, -1], [-0.55, 0.12], [-0.05, 0.12], [-0.25, 1], [0.55, -0.15],
                                [0.05, -0.15]])], ["any"], ()),
    "drop": lambda rng: ([ell(0, 0.35, 0.6, 0.6), poly([[0, -1], [-0.53, 0.08], [0.53, 0.08]])], ["any"], ()),
    "hourglass": lambda rng: ([poly([[-0.7, -1], [0.7, -1], [0.08, 0], [0.7, 1], [-0.7, 1], [-0.08, 0]])],
                              ["any"], ()),
    "chevron": lambda rng: ([poly([[-1, -0.5], [0, 0.3], [1, -0.5], [1, 0.1], [0, 0.9], [-1, 0.1]])], ["any"], ()),
    "gear": _gear,
    "flower": _flower,
    "keyhole": lambda rng: ([ell(0, -0.35, 0.45, 0.45), poly([[-0.2, -0.1], [0.2, -0.1], [0.42, 1], [-0.42, 1]])],
                            ["any"], ()),
    "shield": _shield,
    "cloud": lambda rng: ([ell(-0.5, 0.15, 0.4, 0.4), ell(0, -0.2, 0.55, 0.55), ell(0.5, 0.1, 0.42, 0.42),
                           rect(-0.5, 0.1, 0.5, 0.55)], ["any"], ()),
    "bone": lambda rng: ([rect(-0.7, -0.16, 0.7, 0.16)] + [ell(x, y, 0.26, 0.26) for x in (-0.72, 0.72)
                                                           for y in (-0.2, 0.2)], ["any"], ()),
    "crown": lambda rng: ([poly([[-0.9, 0.7], [-0.9, -0.7], [-0.45, -0.05], [0, -0.85], [0.45, -0.05], [0.9, -0.7],
                                 [0.9, 0.7]]), rect(-0.9, 0.35, 0.9, 0.7, 1)], ["gold", "any"], ()),
    "capsule": lambda rng: ([ell(-0.55, 0, 0.32, 0.32), rect(-0.55, -0.32, 0, 0.32), rect(0, -0.32, 0.55, 0.32, 1),
                             ell(0.55, 0, 0.32, 0.32, 1)], ["any", "any"], ()),
    "spiral": _spiral,
    "wave": lambda rng: ([line(np.stack([np.linspace(-1, 1, 40), 0.35 * np.sin(np.linspace(-1, 1, 40) * 2.5 * np.pi)],
                                        1), _j(rng, 0.26))], ["any"], ()),
    "house": _house,
}


def _pencil(rng):
    return ([rect(-0.16, -0.72, 0.16, 0.55), poly([[-0.16, 0.55], [0.16, 0.55], [0, 0.95]], 1),
             poly([[-0.05, 0.82], [0.05, 0.82], [0, 0.97]], 2), rect(-0.16, -0.96, 0.16, -0.8, 3),
             rect(-0.17, -0.82, 0.17, -0.7, 4)], ["any", "wood", "dark", "warm", "metal"], (0, 4))


def _ladder(rng):
    n = int(rng.integers(4, 7))
    rungs = [line([[-0.45, y], [0.45, y]], 0.08) for y in np.linspace(-0.75, 0.75, n)]
    return [line([[-0.45, -1], [-0.45, 1]], 0.1), line([[0.45, -1], [0.45, 1]], 0.1)] + rungs, ["wood"], ()


def _dumbbell(rng):
    w = _j(rng, 0.45)
    return ([rect(-0.7, -0.06, 0.7, 0.06, 1), rect(-0.72, -w, -0.48, w), rect(0.48, -w, 0.72, w),
             rect(-0.86, -w * 0.7, -0.72, w * 0.7), rect(0.72, -w * 0.7, 0.86, w * 0.7)], ["dark", "metal"], (1,))


def _traffic_light(rng):
    return ([rrect(-0.34, -1, 0.34, 0.6, 0.1), ell(0, -0.66, 0.2, 0.2, 1), ell(0, -0.2, 0.2, 0.2, 2),
             ell(0, 0.26, 0.2, 0.2, 3), rect(-0.07, 0.6, 0.07, 1.0, 4)], ["dark", "red", "yellow", "lime", "metal"],
            (4,))


def _flag(rng):
    x = np.linspace(-0.75, 0.95, 12)
    top, bot = -0.95 + 0.08 * np.sin(x * 4), -0.1 + 0.08 * np.sin(x * 4)
    cloth = np.vstack([np.stack([x, top], 1), np.stack([x, bot], 1)[::-1]])
    mid = np.vstack([np.stack([x, (2 * top + bot) / 3], 1), np.stack([x, (top + 2 * bot) / 3], 1)[::-1]])
    return [line([[-0.8, -1], [-0.8, 1]], 0.07, 2), poly(cloth), poly(mid, 1)], ["any", "any", "metal"], (2,)


def _hammer(rng):
    return ([rect(-0.09, -0.45, 0.09, 1), rect(-0.55, -0.78, 0.4, -0.4, 1),
             poly([[0.4, -0.78], [0.75, -0.95], [0.62, -0.6], [0.4, -0.45]], 1)], ["wood", "metal"], (0,))


def _sailboat(rng):
    return ([poly([[-0.9, 0.45], [0.9, 0.45], [0.6, 0.85], [-0.6, 0.85]]), line([[0, -1], [0, 0.45]], 0.05, 2),
             poly([[0.06, -0.92], [0.06, 0.35], [0.78, 0.35]], 1),
             poly([[-0.06, -0.7], [-0.06, 0.35], [-0.6, 0.35]], 1)],
            ["any", "light", "wood"], ())


def _envelope(rng):
    return ([rect(-1, -0.62, 1, 0.62), line([[-0.97, -0.58], [0, 0.08], [0.97, -0.58]], 0.05, 1)],
            ["light" if rng.random() < 0.6 else "any", "dark"], ())


def _comb(rng):
    teeth = [rect(x - 0.035, -0.25, x + 0.035, 0.55) for x in np.linspace(-0.92, 0.92, int(rng.integers(9, 15)))]
    return [rect(-1, -0.55, 1, -0.2)] + teeth, ["any"], ()


def _bell(rng):
    t = np.linspace(0, 1, 10)[:, None]
    side = (1 - t) ** 2 * [0.25, -0.75] + 2 * t * (1 - t) * [0.35, 0.3] + t ** 2 * [0.8, 0.65]
    body = np.vstack([side, side[::-1] * [-1, 1]])
    return ([arc(0, -0.82, 0.14, 0.14, 0, 360, 0.07), poly(body), ell(0, 0.72, 0.16, 0.16, 1)], ["gold", "dark"],
            (0,))


def _candle(rng):
    return ([rect(-0.22, -0.3, 0.22, 1), line([[0, -0.3], [0, -0.45]], 0.04, 1), ell(0, -0.62, 0.12, 0.22, 2),
             poly([[-0.1, -0.58], [0.1, -0.58], [0, -0.98]], 2)], ["any", "dark", "warm"], (0,))


def _eyeglasses(rng):
    rx, ry = _j(rng, 0.38), _j(rng, 0.3)
    return ([ring(-0.5, 0, rx, ry, 0.09), ring(0.5, 0, rx, ry, 0.09), arc(0, 0.05, 0.13, 0.12, 200, 340, 0.07),
             line([[-0.88, -0.05], [-1.0, -0.15]], 0.07), line([[0.88, -0.05], [1.0, -0.15]], 0.07)], ["dark"], ())


def _chair(rng):
    return ([rect(-0.55, 0.0, 0.55, 0.14), rect(-0.55, -1, -0.42, 0.14), rect(-0.55, 0.14, -0.44, 1),
             rect(0.44, 0.14, 0.55, 1), rect(-0.45, -0.85, -0.42, -0.2)], ["wood"], ())


def _anchor(rng):
    return ([rect(-0.08, -0.66, 0.08, 0.78), ring(0, -0.82, 0.16, 0.16, 0.08), rect(-0.45, -0.56, 0.45, -0.45),
             arc(0, 0.15, 0.72, 0.72, 25, 155, 0.12), poly([[0.56, 0.52], [0.85, 0.38], [0.72, 0.72]]),
             poly([[-0.56, 0.52], [-0.85, 0.38], [-0.72, 0.72]])], ["metal" if rng.random() < 0.7 else "dark"], ())


def _padlock(rng):
    return ([arc(0, -0.15, 0.4, 0.5, 180, 360, 0.15, 1), rrect(-0.6, -0.15, 0.6, 0.9, 0.1),
             ell(0, 0.25, 0.1, 0.1, 2), rect(-0.04, 0.25, 0.04, 0.55, 2)], ["gold" if rng.random() < 0.5 else "any",
                                                                              "metal", "dark"], (1,))


def _desk_lamp(rng):
    return ([ell(0, 0.9, 0.5, 0.1, 1), line([[0, 0.85], [-0.3, 0.05], [0.25, -0.55]], 0.07, 1),
             poly([[0.05, -0.75], [0.45, -0.95], [0.85, -0.25], [0.45, -0.3]]), ell(0.62, -0.3, 0.12, 0.12, 2)],
            ["any", "dark", "light"], ())


OBJECTS = {"pencil": _pencil, "ladder": _ladder, "dumbbell": _dumbbell, "traffic_light": _traffic_light,
           "flag": _flag, "hammer": _hammer, "sailboat": _sailboat, "envelope": _envelope, "comb": _comb,
           "bell": _bell, "candle": _candle, "eyeglasses": _eyeglasses, "chair": _chair, "anchor": _anchor,
           "padlock": _padlock, "desk_lamp": _desk_lamp}
