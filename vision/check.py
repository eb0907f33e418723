"""One call per layer: photo + toolpaths + registration -> Verdict and annotated image.

`LayerChecker` keeps a job's reference cache and the previous layer's photo, which is what tells fresh material
from old; `check_layer` is the stateless form for a single photo.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from slicing.toolpath import LayerPaths
from vision.annotate import annotate
from vision.calibration import Calibration, ageing_sample, calibrate, with_threshold
from vision.classify import Verdict, by_object, classify
from vision.compare import (
    SHADOW_LOST,
    Background,
    Observation,
    ageing,
    background,
    bed_ratio,
    compare,
    observe,
    prior_fraction,
    shadow_lost,
)
from vision.config import VisionConfig
from vision.objects import ObjectRegions, object_count, only
from vision.parallax import Parallax
from vision.pose import camera_centre, drift_at
from vision.reference import References, draw_layer, make_grid
from vision.registration import Registration

__all__ = ["LayerChecker", "Verdict", "check_layer"]

CORNERS_SEEN_DRIFT = 0.1   # bed mm of apparent drift per mm of height: a camera this far from straight down (~15°)


class LayerChecker:
    """Checks the layers of one job in order against references drawn from its toolpaths."""

    def __init__(self, layers: Sequence[LayerPaths], registration: Registration,
                 config: VisionConfig | None = None, object_names: Sequence[str] = (),
                 bed_photo: np.ndarray | None = None, old_ratio: float | None = None) -> None:
        """`object_names` name the labelled objects (copies) of the layers; with two or more each copy is also
        judged in its own region. `bed_photo`, the bare bed before the first layer from the same camera, is the
        per-pixel bed material is told from (else the bed's colour at the raster's rim). `old_ratio` is the
        old/fresh ratio this printer's earlier jobs measured (see `old_ratio` below), counted as one sample."""
        self.config = config or VisionConfig()
        self.registration = registration
        grid = make_grid(layers, self.config.px_per_mm, margin_mm=self.config.margin_mm)
        self.refs = References(layers, grid, self.config.filament_diameter, self.config.min_bead_mm,
                               self.config.max_bead_mm)
        self._prev: Observation | None = None
        self._prev_n: int | None = None
        self._prev_fraction: np.ndarray | None = None     # fresh fraction per pixel found in the previous photo
        self._on_bed: float | None = None                  # fresh material / bare bed brightness, from layer 0
        count = object_count(layers)
        self.object_names = [object_names[k] if k < len(object_names) else f"object {k}" for k in range(count)]
        self.regions = (ObjectRegions(layers, grid, count, (self.config.filament_diameter, self.config.min_bead_mm,
                                                            self.config.max_bead_mm)) if count >= 2 else None)
        self.skipped: set[int] = set()                    # copies no longer printed (not judged, not expected)
        self.calibration: Calibration | None = None        # this job's camera figures, from its first layer
        self.bed_photo = bed_photo
        self.old_ratios: list[float] = []                 # ageing measured on this job's sound layers
        self.learned: VisionConfig | None = None          # the config with this job's measured ageing
        self.parallax = Parallax(self.config.shift_mm)    # a tilted camera's drift with height, learned
        self._kept = old_ratio
        if old_ratio is not None:
            self._learn_ageing(None)
        self._background: tuple[Registration, Background] | None = None
        self._posed: Registration | None = None           # the registration the parallax prior was found from
        self.shadows = True   # bed in shadow is bed (False once the first layer shows the filament is the bed dimmed)

    @property
    def grid(self):
        """The bed raster this job is checked on."""
        return self.refs.grid

    def observe(self, image: np.ndarray, n: int) -> Observation:
        """Warp and segment a photo taken after layer n, registered at that layer's height."""
        if self._posed is not self.registration:       # (again when the camera was registered anew)
            self._posed = self.registration
            centre = camera_centre(self.registration.homography, self.registration.image_size)
            g = self.grid
            self.parallax.prior = None if centre is None else drift_at(centre, ((g.x0 + g.x1) / 2, (g.y0 + g.y1) / 2))
        at = self.parallax.at_height(self.registration, float(self.refs.layers[n].z))
        return observe(image, at, self.grid, self.config, self._bed(), self.shadows)

    def _bed(self) -> Background | None:
        """The bed photo warped by the current registration (again when the camera was registered anew)."""
        if self.bed_photo is None or self.bed_photo.shape[:2] != tuple(reversed(self.registration.image_size)):
            return None
        if self._background is None or self._background[0] is not self.registration:
            self._background = (self.registration, background(self.bed_photo, self.registration, self.grid))
        return self._background[1]

    def check(self, image: np.ndarray, n: int, annotated: bool = True) -> tuple[Verdict, np.ndarray | None]:
        """Judge the photo taken after layer n was printed; remembers it as the previous photo for layer n+1."""
        obs = self.observe(image, n)
        prev = self._prev if self._prev_n == n - 1 else None
        top = self._top(n)
        if n == 0 and prev is None and self.calibration is None:
            obs = self._test_shadows(image, obs, top)
            self.calibration = calibrate(obs, top, self.grid, self.config)
            if self.calibration is not None:
                self.calibration = dataclasses.replace(self.calibration, shadows=self.shadows)
                self.config = self.config.replace(material_contrast=self.calibration.material_threshold)
                obs = with_threshold(obs, self.calibration.material_threshold)
        below = self.parallax.walls(np.maximum(self.refs.below(n), top), float(self.refs.layers[n].z),
                                    self.grid.px_per_mm)
        prev_top = self.refs.layer(n - 1) if (prev is not None and n > 0) else None
        fraction = None
        if prev is not None:
            # a layer judged sound is taken as planned (no drift from measurement to measurement); a failed one
            # as measured, so a thin layer does not become the next layer's full-brightness baseline
            fraction = self._prev_fraction
            if fraction is None:
                fraction = prior_fraction(prev, prev_top, self.grid, self.config)
        if n == 0 and prev is None:
            self._on_bed = bed_ratio(obs, top, self.grid, self.config)
        rho = ageing(prev_top, self.grid, self.config)
        comparison = compare(obs, prev, top, below, fraction, self.grid, self.config, self._on_bed, rho)
        verdict = classify(n, comparison, self.config, self.corners_seen)
        verdict = self._clog_or_low_flow(n, verdict, obs, prev, top, below, fraction, prev_top)
        if self.regions is not None:
            verdict = by_object(n, verdict, self._copies(n, obs, prev, fraction, rho, prev_top))
        if prev is not None and fraction is not None and verdict.status == "ok":
            self._learn_ageing(ageing_sample(obs, prev, fraction, top, self.grid, self.config))
        if verdict.status == "ok":
            self.parallax.learn(float(self.refs.layers[n].z), comparison.offset_mm, comparison.response)
        self._prev, self._prev_n = obs, n
        self._prev_fraction = None if verdict.status == "ok" else comparison.fraction
        picture = None
        if annotated:
            picture = annotate(image, verdict, top, comparison.missing, comparison.excess, self.grid,
                               self.registration)
        return verdict, picture

    def _test_shadows(self, image: np.ndarray, obs: Observation, top: np.ndarray) -> Observation:
        """On the first layer: keep telling the bed in shadow from material unless this job's filament looks like
        its bed dimmed (then a shadow cannot be told from it, and is material, as before the test); the first
        photo's observation under the decision."""
        self.shadows = False
        plain = self.observe(image, 0)
        self.shadows = shadow_lost(obs, plain, top, self.grid, self.config) <= SHADOW_LOST
        return obs if self.shadows else plain

    def _learn_ageing(self, sample: float | None) -> None:
        """Keep a layer's ageing sample; the job's old/fresh ratios become the median of the samples so far (the
        narrow-line ratio moved with the wide one), instead of the constants of one renderer."""
        if sample is not None:
            self.old_ratios.append(sample)
        samples = self.old_ratios + ([self._kept] if self._kept is not None else [])
        if not samples:
            return
        wide = float(np.median(samples))
        base = self.config   # only its material threshold is replaced during a job: its ratios are the configured
        narrow = 1.0 - (1.0 - wide) * (1.0 - base.old_ratio_narrow) / max(1e-6, 1.0 - base.old_ratio)
        self.learned = self.config.replace(old_ratio=wide, old_ratio_narrow=min(0.98, narrow))

    @property
    def corners_seen(self) -> bool:
        """Whether this camera sees a corner rise: it looks at an angle, by the drift with height it predicts from
        its pose or has learned."""
        return bool(np.hypot(*self.parallax.drift) >= CORNERS_SEEN_DRIFT)

    @property
    def old_ratio(self) -> float | None:
        """The old/fresh brightness ratio this job now expects (measured, or kept from earlier jobs), if any."""
        return None if self.learned is None else self.learned.old_ratio

    def _clog_or_low_flow(self, n: int, verdict: Verdict, obs: Observation, prev: Observation | None,
                          top: np.ndarray, below: np.ndarray, fraction: np.ndarray | None,
                          prev_top: np.ndarray | None, box: tuple[slice, slice] | None = None) -> Verdict:
        """A layer (or a copy, inside `box`) failed for too little fresh material: judged again with the ageing
        this job measured, a clog (next to nothing laid) is told from low flow where the configured ratio reads
        aged material as some fresh. Whether it fails stays the configured ratio's call (a glossy finish's
        highlights vary by layer)."""
        if verdict.status != "under_extrusion" or self.learned is None:
            return verdict
        rho = ageing(prev_top, self.grid, self.learned)
        if box is not None and isinstance(rho, np.ndarray):
            rho = rho[box]
        again = compare(obs, prev, top, below, fraction, self.grid, self.learned, self._on_bed, rho)
        second = classify(n, again, self.learned, self.corners_seen)
        return second if second.status == "missing_layer" else verdict

    def skip(self, name: str) -> None:
        """A copy is no longer printed: from now on it is neither expected nor judged."""
        if name in self.object_names:
            self.skipped.add(self.object_names.index(name))

    def _top(self, n: int) -> np.ndarray:
        """Layer n's mask as it is printed (without skipped copies)."""
        lp = self.refs.layers[n]
        if not self.skipped or lp.objects is None:
            return self.refs.layer(n)
        keep = ~np.isin(lp.objects, sorted(self.skipped))
        c = self.config
        return draw_layer(only(lp, keep), self.grid, filament_diameter=c.filament_diameter, min_width=c.min_bead_mm,
                          max_width=c.max_bead_mm)

    def _copies(self, n: int, obs: Observation, prev: Observation | None, fraction: np.ndarray | None,
                rho: np.ndarray | float, prev_top: np.ndarray | None) -> list[tuple[str, Verdict]]:
        """Each copy still printed that has material in layer n, judged in its own region (cropped to the copy's
        footprint and margin, so a plate's check costs little more per copy than its share of the plate)."""
        assert self.regions is not None
        out = []
        for k, name in enumerate(self.object_names):
            if k in self.skipped:
                continue
            box = self.regions.boxes[k]
            top = self.regions.layer(n, k)
            if not top.any():
                continue
            region = self.regions.region(k)
            o = obs.crop(box, region)
            p = None if prev is None else prev.crop(box, region)
            f = None if fraction is None else np.where(region, fraction[box], 0.0).astype(np.float32)
            r = rho[box] if isinstance(rho, np.ndarray) else rho
            below = self.regions.below(n, k)
            c = compare(o, p, top, below, f, self.grid, self.config, self._on_bed, r)
            verdict = self._clog_or_low_flow(n, classify(n, c, self.config, self.corners_seen), o, p, top, below, f,
                                             prev_top, box)
            out.append((name, verdict))
        return out

    def remember(self, image: np.ndarray, n: int) -> None:
        """Keep a photo of layer n as the previous photo without judging it (e.g. after a resume)."""
        self._prev, self._prev_n, self._prev_fraction = self.observe(image, n), n, None


def check_layer(image: np.ndarray, registration: Registration, layers: Sequence[LayerPaths], n: int,
                config: VisionConfig | None = None,
                previous: np.ndarray | None = None) -> tuple[Verdict, np.ndarray]:
    """Judge layer n from a photo (and, if given, the photo of layer n-1 from the same camera)."""
    checker = LayerChecker(layers, registration, config)
    if previous is not None and n > 0:
        checker.remember(previous, n - 1)
    verdict, picture = checker.check(image, n)
    assert picture is not None
    return verdict, picture
