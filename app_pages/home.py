"""Home: what shiftlab is, the guided tour, the model zoo with its measured figures, and a first prediction."""

from __future__ import annotations

import streamlit as st

from shiftlab.app import charts, model_zoo, text
from shiftlab.app.columns import zoo_columns
from shiftlab.app.feedback import user_errors
from shiftlab.app.pieces import model_input, setup_page, top_k
from shiftlab.app.sidebar import view_model, view_picture, view_sidebar
from shiftlab.app.tour import start_tour

#: the zoo's columns, as two tables: accuracy, robustness and training length, then calibration and where training
#: started (a fine-tuning's origin is a long text)
ZOO_TABLES = (("model", "variant", "accuracy", "corruption_accuracy", "pgd20_accuracy", "macro_f1", "epochs"),
              ("model", "variant", "ece", "nll", "origin"))

setup_page("home")
if st.button("Start the guided tour", type="primary", key="start_tour"):
    start_tour()

st.subheader("Model zoo")
zoo = model_zoo.measured_table()
config = zoo_columns()
config["origin"] = {**config["origin"], "width": "large"}  # "fine-tuned from resnet20/baseline" in full
for columns in ZOO_TABLES:  # two narrower tables: one of ten columns is cut off on a 1024-px projector
    st.dataframe(zoo, column_order=columns, hide_index=True, width="stretch", column_config=config)
st.caption(text.ZOO_CAPTION)
for model, variant, why in model_zoo.problems():  # file names and card fields: shown escaped
    st.warning(text.plain(f"{model}/{variant}: {why}"))
others = model_zoo.unmeasured()
if others:
    st.markdown("**Also available** (no test-set figures here: ImageNet is not shipped): "
                + "; ".join(f"`{model}/{variant}` — {text.plain(what)}" for model, variant, what in others))

st.subheader("Try a model")
view = view_sidebar("model", "image")
loaded = view_model(view)
picture = view_picture(view, loaded)
left, right = st.columns([1, 2])
with left:
    with user_errors():
        pixels = model_input(picture.pixels, loaded.input_size)
    st.image(pixels, caption=picture.caption, width=224)
with right:
    st.altair_chart(charts.top_k_chart(top_k(loaded, pixels)), width="stretch")
    st.caption(f"The five most probable of {loaded.name}'s {len(loaded.classes):,} classes, with their probabilities.")
