"""shiftlab's Streamlit entry point (`streamlit run app.py`): the menu of pages, home first.

The pages live in ``app_pages/`` (not ``pages/``: Streamlit would list a
``pages/`` folder itself before this menu exists, so a deep link opened as a
fresh server's first request would show that raw listing).
"""

import streamlit as st

st.set_page_config(page_title="shiftlab", page_icon="🔬", layout="wide")
PAGES = [
    st.Page("app_pages/home.py", title="Home", default=True),
    st.Page("app_pages/compare.py", title="Compare", url_path="compare"),
    st.Page("app_pages/variants.py", title="Variants", url_path="variants"),
    st.Page("app_pages/triptych.py", title="Triptych", url_path="triptych"),
    st.Page("app_pages/calibration.py", title="Calibration", url_path="calibration"),
    st.Page("app_pages/spectral.py", title="Spectral profile", url_path="spectral"),
    st.Page("app_pages/cases.py", title="Cases", url_path="cases"),
    st.Page("app_pages/ood.py", title="OOD detection", url_path="ood"),
    st.Page("app_pages/trust.py", title="Trust", url_path="trust"),
    st.Page("app_pages/robustness.py", title="Robustness", url_path="robustness"),
]
st.navigation(PAGES).run()
