"""The 19 corruptions of Hendrycks & Dietterich (2019) as ``Shift`` records: the 15 of the benchmark and 4 extra.

Each has the two severity tables of ``params`` (CIFAR-10-C for small images,
ImageNet-C for large ones) and a function from ``noise``, ``blur``,
``weather``, ``spatter``, ``digital`` or ``elastic``.
"""

from __future__ import annotations

from shiftlab.shifts import blur, digital, elastic, noise, spatter, weather
from shiftlab.shifts.params import severity_table
from shiftlab.shifts.shift import Shift, ShiftFunction, freeze

#: (name, family, random, function, description); families as in ImageNet-C
_SPECS: tuple[tuple[str, str, bool, ShiftFunction, str], ...] = (
    ("gaussian_noise", "noise", True, noise.gaussian_noise,
     "Additive Gaussian noise on every channel value, as in low light."),
    ("shot_noise", "noise", True, noise.shot_noise,
     "Poisson photon noise: the grain of a sensor counting few photons."),
    ("impulse_noise", "noise", True, noise.impulse_noise,
     "Salt-and-pepper noise: random channel values set to 0 or 255."),
    ("defocus_blur", "blur", False, blur.defocus_blur,
     "Out-of-focus lens: blur with an anti-aliased disk."),
    ("glass_blur", "blur", True, blur.glass_blur,
     "Frosted glass: blur, shuffle pixels locally, blur again."),
    ("motion_blur", "blur", True, blur.motion_blur,
     "Camera shake: a line blur at a random angle."),
    ("zoom_blur", "blur", False, blur.zoom_blur,
     "Zooming during the exposure: the mean of growing centre zooms."),
    ("snow", "weather", True, weather.snow,
     "Falling snow: a whitened scene with motion-blurred flakes."),
    ("frost", "weather", True, weather.frost,
     "Ice crystals on the lens: a procedural frost texture blended in."),
    ("fog", "weather", True, weather.fog,
     "Fog: a plasma-fractal haze that lowers contrast unevenly."),
    ("brightness", "weather", False, digital.brightness,
     "Brighter light: the HSV value raised."),
    ("contrast", "digital", False, digital.contrast,
     "Lower contrast: each channel pulled towards its image mean."),
    ("elastic_transform", "digital", True, elastic.elastic_transform,
     "Elastic warp: a random affine plus a smooth displacement field."),
    ("pixelate", "digital", False, digital.pixelate,
     "Low resolution: box-downsampled and upsampled back."),
    ("jpeg_compression", "digital", False, digital.jpeg_compression,
     "JPEG artefacts: encoded at low quality and decoded."),
    ("speckle_noise", "noise", True, noise.speckle_noise,
     "Multiplicative noise, stronger on brighter pixels (extra corruption)."),
    ("gaussian_blur", "blur", False, blur.gaussian_blur,
     "Gaussian blur (extra corruption)."),
    ("spatter", "weather", True, spatter.spatter,
     "Water drops (severities 1-3) or mud (4-5) on the lens (extra corruption)."),
    ("saturate", "digital", False, digital.saturate,
     "Colour saturation lowered (1-2) or raised (3-5) in HSV (extra corruption)."),
)

#: the 15 corruptions of the benchmark, in its order
#: corruptions that are uint8 operations, by their uint8 function (see ``Shift.uint8_function``)
_UINT8 = {"jpeg_compression": digital.jpeg_uint8, "pixelate": digital.pixelate_uint8}

#: corruptions that keep running on torch's threads, the others run side by side (``Shift.side_by_side``):
#: those whose bytes depend on torch's thread count, since their FFT correlation's inverse transform
#: (torch.fft.irfft2) rounds some values differently on 2 threads than on 1 (motion_blur at 32 px, severity 4),
#: and fog, 20-25 % slower side by side at 224 px on 2 quiet cores (bench_corruptions, back to back)
_ON_TORCH_THREADS = {"defocus_blur", "motion_blur", "snow", "fog"}

BENCHMARK = tuple(spec[0] for spec in _SPECS[:15])
#: the 4 extra ("validation") corruptions
EXTRA = tuple(spec[0] for spec in _SPECS[15:])

SHIFTS: tuple[Shift, ...] = tuple(
    Shift(
        name=name,
        kind="corruption",
        family=family,
        description=description,
        params=freeze(severity_table(name)),
        function=function,
        random=random,
        resolution_aware=True,
        uint8_function=_UINT8.get(name),
        side_by_side=name not in _ON_TORCH_THREADS,
    )
    for name, family, random, function, description in _SPECS
)
