"""shiftlab's Streamlit entry point (`streamlit run app.py`): the list of pages, home first."""

import streamlit as st

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/1_Shift_explorer.py", title="Shift explorer"),
    st.Page("pages/2_Explain.py", title="Explain"),
    st.Page("pages/3_Cases.py", title="Cases"),
    st.Page("pages/4_Spectral_profile.py", title="Spectral profile"),
    st.Page("pages/5_OOD_detection.py", title="OOD detection"),
    st.Page("pages/6_Robustness.py", title="Robustness"),
]

st.navigation(PAGES).run()
