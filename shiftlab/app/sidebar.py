"""The view's sidebar (Streamlit): the view read from the URL, the widgets that edit it, and the pages' other pickers.

A view (``shiftlab.app.view.View``: model, image, shift, severity, seed,
methods, target, presentation) is parsed from the URL on a session's first run and kept in
the session across pages. Each sidebar widget's key is ``view.<page>.<field>``,
initialised from the view when the page first draws it, so every page opens on
the current view and a change on one page is written back to the view and the
URL. Pickers that are not part of the view (one method, the image set, the
OOD set) live here too, with the view's image or upload and its model.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from shiftlab.app import text
from shiftlab.app.caches import cached_dataset, cached_model, dataset_sizes
from shiftlab.app.compare import is_signed
from shiftlab.app.experiment import labels_apply
from shiftlab.app.feedback import user_errors
from shiftlab.app.gallery import Picture, frame_count, picture
from shiftlab.app.view import (
    FULL,
    PHOTO,
    PHOTOS,
    SAMPLE,
    SEED_MAX,
    TARGETS,
    ImageRef,
    Replacement,
    View,
    default_image,
    methods_for,
    model_choices,
    parse_view,
    shift_choices,
)
from shiftlab.images import load_image
from shiftlab.models import LoadedModel, get_spec
from shiftlab.shifts import SEVERITIES, list_shifts
from shiftlab.shifts.ood import unavailable_reason

#: session-state key of the current view, and prefix of the sidebar widgets that edit it
VIEW_KEY = "view"
WIDGET = "view."
#: session-state key of the page being drawn (``pieces.setup_page`` sets it): the sidebar's widget keys are per page
PAGE_KEY = "page"


def current_view() -> View:
    """The view of this session: parsed from the URL on the session's first run, then kept across pages."""
    if VIEW_KEY not in st.session_state:
        st.session_state[VIEW_KEY] = parse_view(st.query_params.to_dict(), dataset_sizes())
    return st.session_state[VIEW_KEY]


def set_view(view: View) -> None:
    """Make ``view`` current (the sidebar widgets re-read it) and write it to the URL."""
    st.session_state[VIEW_KEY] = view
    for key in [k for k in st.session_state if str(k).startswith(WIDGET)]:
        del st.session_state[key]
    st.query_params.from_dict(view.to_query())


def _bound(name: str, value: Any) -> str:
    """The key of the sidebar widget editing view field ``name``, initialised from the view when first drawn.

    Keys are per page: a page's widgets are new widgets to Streamlit, so each
    page starts from the view rather than from another page's widget state.
    """
    key = f"{WIDGET}{st.session_state.get(PAGE_KEY, '')}.{name}"
    if key not in st.session_state:
        st.session_state[key] = value
    return key


def view_sidebar(*fields: str, variant: bool = True) -> View:
    """Sidebar widgets for the view ``fields`` (of model, image, shift, severity, seed, methods, target), and the
    presentation switch every page has.

    Every change updates the view and the URL, so the page can be shared and
    the next page opens on the same choices. ``variant=False`` picks only the
    architecture (the Variants page shows all of its variants).
    """
    view = current_view()
    show_notes(view.notes)
    if "model" in fields:
        view = _pick_model(view, variant)
    if "image" in fields:
        view = view.with_(image=_pick_image(view))
    if "shift" in fields:
        names = shift_choices()
        view = view.with_(shift=st.sidebar.selectbox("Shift", names, key=_bound("shift", view.shift),
                                                     help="Every corruption and edit; see the parameters below."))
    if "severity" in fields:
        view = view.with_(severity=st.sidebar.slider("Severity", min(SEVERITIES), max(SEVERITIES),
                                                     key=_bound("severity", view.severity)))
    if "seed" in fields:
        view = view.with_(seed=int(st.sidebar.number_input("Seed", min_value=0, max_value=SEED_MAX, step=1,
                                                           key=_bound("seed", view.seed),
                                                           help="Fixes every random draw of the shift.")))
    if "methods" in fields:
        view = view.with_(methods=_pick_methods(view))
    if "target" in fields:
        view = view.with_(target=st.sidebar.radio(
            "Maps explain", TARGETS, key=_bound("target", view.target), horizontal=True,
            format_func={"source": "source's class", "own": "each image's class"}.get, help=text.TARGET_HELP))
    view = view.with_(present=st.sidebar.toggle(text.PRESENT_LABEL, key=_bound("present", view.present),
                                                help=text.PRESENT_HELP))
    st.session_state[VIEW_KEY] = view
    st.query_params.from_dict(view.to_query())
    return view


def show_notes(notes: tuple[Replacement, ...]) -> None:
    """One note for all of a link's unusable values: each (escaped) with what replaced it, the choices folded away."""
    if not notes:
        return
    note, choices = text.url_note(notes)
    st.warning(note)
    with st.expander(text.URL_CHOICES):
        st.markdown(choices)


def _pick_model(view: View, variant: bool) -> View:
    choices = model_choices()
    if variant:
        current = (view.arch, view.variant)
        arch, chosen = st.sidebar.selectbox("Model", choices, format_func=" / ".join,
                                            key=_bound("model", current if current in choices else choices[0]))
    else:
        archs = list(dict.fromkeys(a for a, _ in choices))
        arch = st.sidebar.selectbox("Architecture", archs, key=_bound("arch", view.arch))
        variants = [v for a, v in choices if a == arch]
        chosen = view.variant if view.variant in variants else variants[0]
    if arch == view.arch:
        return view.with_(variant=chosen)
    # a new architecture: keep what still applies to it, reset what does not
    methods = tuple(m for m in view.methods if m in methods_for(arch)) or tuple(methods_for(arch)[:1])
    image = view.image if get_spec(arch).dataset == get_spec(view.arch).dataset else default_image(arch)
    page = st.session_state.get(PAGE_KEY, "")
    for name in ("methods", "image_source", "image_index", "photo"):
        st.session_state.pop(f"{WIDGET}{page}.{name}", None)
    return view.with_(arch=arch, variant=chosen, methods=methods, image=image)


def _pick_image(view: View) -> ImageRef:
    sizes = dataset_sizes()
    sources = [*sizes, PHOTO]
    names = {SAMPLE: f"CIFAR-10 sample · {sizes[SAMPLE]}", FULL: f"CIFAR-10 test set · {sizes.get(FULL, 0):,}",
             PHOTO: "photographs"}
    source = st.sidebar.selectbox("Images", sources,
                                  format_func=lambda s: names[s] if s in names else f"{s} · {sizes[s]:,}",
                                  key=_bound("image_source", view.image.source))
    if source == PHOTO:
        key = view.image.key if view.image.source == PHOTO else "coffee"
        return ImageRef(PHOTO, st.sidebar.selectbox("Photo", list(PHOTOS), key=_bound("photo", key)))
    index = view.image.index if view.image.source == source else 0
    chosen = st.sidebar.number_input(f"Image id (0 to {sizes[source] - 1})", 0, sizes[source] - 1, step=1,
                                     key=_bound("image_index", min(index, sizes[source] - 1)))
    return ImageRef(source, str(int(chosen)))


def _pick_methods(view: View) -> tuple[str, ...]:
    allowed = methods_for(view.arch)
    chosen = st.sidebar.multiselect("Attribution methods", allowed, key=_bound("methods", list(view.methods)),
                                    help="; ".join(f"{m}: {text.METHOD_TITLES[m]}" for m in allowed))
    return tuple(chosen) or view.methods


def variants_of(arch: str) -> list[str]:
    """The variants of ``arch`` whose weights are here, declared order first."""
    return [variant for a, variant in model_choices() if a == arch]


def pick_single_method(view: View) -> str:
    """Sidebar choice of one attribution method (Grad-CAM by default), kept for the session, not in the URL."""
    allowed = methods_for(view.arch)
    default = "gradcam" if "gradcam" in allowed else allowed[0]
    return st.sidebar.selectbox("Attribution method", allowed, key=_bound("single_method", default),
                                format_func=lambda m: f"{m} · {text.METHOD_TITLES[m]}")


def pick_dataset(view: View) -> str:
    """Sidebar choice of the image set a page evaluates: the view's dataset by default."""
    sizes = dataset_sizes()
    default = view.image.source if view.image.source in sizes else SAMPLE
    names = {SAMPLE: "CIFAR-10 sample", FULL: "CIFAR-10 test set"}
    return st.sidebar.selectbox("Images", list(sizes), key=_bound("dataset", default),
                                format_func=lambda name: f"{names.get(name, name)} · {sizes[name]:,}")


def pick_ood_set(present: bool = False) -> str:
    """Sidebar choice of the out-of-distribution set among those available here (with why the others are not,
    unless ``present``: setup notes are no business of a class)."""
    names = list_shifts(kind="dataset", available_only=True)
    default = "ood_cifar100_sample" if "ood_cifar100_sample" in names else names[0]
    chosen = st.sidebar.selectbox("Out-of-distribution set", names, index=names.index(default), key="ood_set",
                                  help="Dataset shifts: every image replaced by one of another set.")
    for name in [] if present else sorted(set(list_shifts(kind="dataset")) - set(names)):
        if reason := unavailable_reason(name):
            st.sidebar.caption(f"`{name}` is not offered: {text.plain(reason)}")
    return chosen


def view_picture(view: View, loaded: LoadedModel) -> Picture:
    """The view's image (or, when one is uploaded in the sidebar, the upload) as a ``Picture``."""
    upload = st.sidebar.file_uploader(text.UPLOAD_LABEL, key="upload", help=text.UPLOAD_HELP)
    if upload is not None:
        with user_errors():
            pixels = load_image(upload.getvalue(), loaded.input_size)
        if (frames := frame_count(upload.getvalue())) > 1:
            st.info(text.ANIMATED.format(frames=frames))
        st.sidebar.caption(text.UPLOAD_NOT_IN_URL)
        return Picture(pixels, None, f"upload: {text.plain(upload.name)}")
    with user_errors():
        return picture(view.image, cached_dataset, loaded.input_size)


def pick_absolute(methods: tuple[str, ...] | list[str]) -> bool:
    """The "show |attribution|" switch, offered when one of ``methods`` draws signed maps (else False)."""
    if not any(is_signed(m) for m in methods):
        return False
    return st.sidebar.toggle(text.ABSOLUTE_LABEL, key="absolute_maps", help=text.ABSOLUTE_HELP)


def view_label(picture: Picture, loaded: LoadedModel) -> int | None:
    """The model's class index of the picture's label, or None when none scores it (a photo, an upload, a
    dataset whose classes are not the model's)."""
    ref = picture.ref
    if picture.label is None or ref is None or ref.source == PHOTO:
        return None
    classes = cached_dataset(ref.source).classes
    return loaded.classes.index(picture.label) if labels_apply(loaded.classes, classes) else None


def view_model(view: View) -> LoadedModel:
    """The view's model, loaded once per process."""
    with user_errors():
        return cached_model(view.arch, view.variant)
