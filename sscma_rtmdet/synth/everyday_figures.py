"""The everyday benchmark's objects (parts.py frames): 8 classes and, for each, a look-alike distractor.

Each entry maps a name to `draw(rng) -> (parts, styles, cylinders)`; proportions, part counts and colours
vary per instance. A distractor shares its class's outline family (a handle-less tumbler for the mug, a jar
for the bottle, a spoon for the key, a hand fan for the umbrella, a balloon for the bulb, a wagon for the
car, a leaf for the fish, a round sign on a pole for the tree) so that the class is told by its parts.
"""
from __future__ import annotations

import numpy as np

from .parts import arc, ell, line, poly, rect, ring, rrect


def _j(rng, v, rel=0.12):
    return v * rng.uniform(1 - rel, 1 + rel)


def _mug(rng):
    w = _j(rng, 0.45)
    return ([rect(-w - 0.1, -0.62, w - 0.1, 0.75), ell(-0.1, -0.62, w, 0.09, 1),
             arc(w - 0.1, 0.05, _j(rng, 0.32), _j(rng, 0.36), -80, 80, 0.13, 2)], ["any", "dark", 0], (0,))


def _tumbler(rng):
    top, bot = _j(rng, 0.5), _j(rng, 0.36)
    return ([poly([[-top, -0.8], [top, -0.8], [bot, 0.8], [-bot, 0.8]]), ell(0, -0.8, top, 0.09, 1)],
            ["any" if rng.random() < 0.6 else "glass", "dark"], (0,))


def _bottle(rng):
    w, neck = _j(rng, 0.34), _j(rng, 0.12)
    body = [rrect(-w, -0.3, w, 1.0, 0.08), poly([[-w, -0.25], [w, -0.25], [neck, -0.55], [-neck, -0.55]]),
            rect(-neck, -0.82, neck, -0.5), rect(-neck - 0.02, -1.0, neck + 0.02, -0.8, 1)]
    label = [rect(-w, 0.15, w, 0.6, 2)] if rng.random() < 0.7 else []
    return body + label, ["green" if rng.random() < 0.5 else "glass", "any", "light"], (0, 2)


def _jar(rng):
    w = _j(rng, 0.6)
    return ([rrect(-w, -0.5, w, 0.9, 0.15), rect(-w + 0.05, -0.78, w - 0.05, -0.48, 1)], ["glass", "any"], (0, 1))


def _key(rng):
    n = int(rng.integers(2, 5))
    teeth = [rect(x, 0.05, x + 0.09, 0.05 + _j(rng, 0.2, 0.4)) for x in np.linspace(0.45, 0.82, n)]
    return ([ell(-0.6, 0, 0.38, 0.38), ell(-0.6, 0, 0.14, 0.14, -1), rect(-0.28, -0.08, 0.95, 0.08)] + teeth,
            ["gold" if rng.random() < 0.5 else "metal"], ())


def _spoon(rng):
    return ([ell(-0.52, 0, 0.42, _j(rng, 0.28)), poly([[-0.2, -0.05], [1.0, -0.07], [1.0, 0.07], [-0.2, 0.05]])],
            ["metal"], ())


def _umbrella(rng):
    n = int(rng.integers(3, 6))
    t = np.radians(np.linspace(180, 360, 24))
    dome = np.stack([0.95 * np.cos(t), -0.05 + 0.7 * np.sin(t)], 1)
    xs = np.linspace(0.95, -0.95, n + 1)
    scallops = [ell((a + b) / 2, -0.05, abs(a - b) / 2, 0.12, -1, 0, 0, 180) for a, b in zip(xs[:-1], xs[1:])]
    return ([poly(dome)] + scallops + [line([[0, -0.85], [0, 0.75]], 0.06, 1),
                                       arc(0.14, 0.75, 0.14, 0.16, 0, 180, 0.06, 1)], ["any", "dark"], ())


def _fan(rng):
    ribs = [line([[0, 0.8], [1.45 * np.cos(a), 0.8 + 1.45 * np.sin(a)]], 0.03, 1)
            for a in np.radians(np.linspace(215, 325, 7))]
    return ([ell(0, 0.8, 1.5, 1.5, 0, 0, 210, 330)] + ribs + [rect(-0.06, 0.75, 0.06, 1.0, 1)], ["any", "wood"], ())


def _bulb(rng):
    r = _j(rng, 0.58)
    threads = [line([[-0.22, y], [0.22, y]], 0.035, 2) for y in np.linspace(0.5, 0.8, 4)]
    return ([ell(0, -0.3, r, r), poly([[-0.3, 0.12], [0.3, 0.12], [0.22, 0.45], [-0.22, 0.45]]),
             rect(-0.22, 0.45, 0.22, 0.85, 1)] + threads + [ell(0, 0.9, 0.1, 0.06, 2)],
            ["glass" if rng.random() < 0.5 else "yellow", "metal", "dark"], (1,))


def _balloon(rng):
    t = np.linspace(0, 1, 12)
    string = np.stack([0.08 * np.sin(t * 9), 0.5 + 0.5 * t], 1)
    return ([ell(0, -0.3, _j(rng, 0.52), 0.66), poly([[0, 0.33], [-0.08, 0.45], [0.08, 0.45]]),
             line(string, 0.025, 1)], ["any", "light"], ())


def _car(rng):
    roof = _j(rng, 0.42)
    body = [rrect(-1, -0.05, 1, 0.42, 0.12), poly([[-0.55, -0.03], [0.5, -0.03], [0.28, -roof], [-0.35, -roof]])]
    windows = [poly([[-0.45, -0.07], [-0.05, -0.07], [-0.05, -roof + 0.06], [-0.3, -roof + 0.06]], 1),
               poly([[0.02, -0.07], [0.4, -0.07], [0.22, -roof + 0.06], [0.02, -roof + 0.06]], 1)]
    wheels = [ell(x, 0.42, 0.24, 0.24, 2) for x in (-0.6, 0.6)] + [ell(x, 0.42, 0.1, 0.1, 3) for x in (-0.6, 0.6)]
    return body + windows + wheels, ["any", "glass", "dark", "metal"], ()


def _wagon(rng):
    return ([rect(-0.85, -0.45, 0.85, 0.3), rect(-0.85, -0.45, 0.85, -0.35, 1),
             line([[0.85, 0.0], [1.0, -0.5]], 0.05, 2)] + [ell(x, 0.38, 0.2, 0.2, 2) for x in (-0.55, 0.55)],
            ["any" if rng.random() < 0.5 else "wood", "dark", "dark"], ())


def _fish(rng):
    stripes = [rect(x, -0.4, x + 0.08, 0.4, 1) for x in np.linspace(-0.3, 0.3, int(rng.integers(0, 4)))]
    return ([ell(-0.12, 0, 0.68, _j(rng, 0.36)), poly([[0.45, 0], [1.0, -0.42], [0.92, 0], [1.0, 0.42]]),
             poly([[-0.2, -0.3], [0.2, -0.5], [0.15, -0.25]])] + stripes
            + [ell(-0.55, -0.08, 0.08, 0.08, 2), ell(-0.55, -0.08, 0.035, 0.035, 3)],
            ["any", "any", "light", "dark"], ())


def _leaf(rng):
    t = np.linspace(0, np.pi, 14)
    w = _j(rng, 0.42)
    outline = np.vstack([np.stack([-np.cos(t) * 0.85, -w * np.sin(t)], 1),
                         np.stack([np.cos(t) * 0.85, w * np.sin(t)], 1)])
    return ([poly(outline), line([[-0.85, 0], [0.85, 0]], 0.03, 1), line([[0.85, 0], [1.05, 0.12]], 0.05, 1)],
            ["green" if rng.random() < 0.7 else "warm", "wood"], ())


def _tree(rng):
    blobs = [ell(_j(rng, x, 0.3), _j(rng, y, 0.3), _j(rng, 0.42), _j(rng, 0.4), 1)
             for x, y in ((-0.35, -0.25), (0.35, -0.25), (0, -0.6), (0, -0.15))[:int(rng.integers(3, 5))]]
    return [rect(-0.12, 0.1, 0.12, 1.0)] + blobs, ["wood", "green"], (0,)


def _signpost(rng):
    return ([rect(-0.05, -0.1, 0.05, 1.0), ell(0, -0.5, 0.45, 0.45, 1), ring(0, -0.5, 0.4, 0.4, 0.07, 2),
             rect(-0.25, -0.56, 0.25, -0.44, 2)], ["metal", "red" if rng.random() < 0.5 else "any", "light"], (0,))


CLASSES = {"mug": _mug, "bottle": _bottle, "key": _key, "umbrella": _umbrella, "bulb": _bulb, "car": _car,
           "fish": _fish, "tree": _tree}
DISTRACTORS = {"tumbler": _tumbler, "jar": _jar, "spoon": _spoon, "fan": _fan, "balloon": _balloon,
               "wagon": _wagon, "leaf": _leaf, "signpost": _signpost}
