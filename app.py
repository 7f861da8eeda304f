"""shiftlab's Streamlit entry point (`streamlit run app.py`): the menu of pages, home first.

Every page, with its menu title and URL path, is declared in ``shiftlab.app.pages.PAGES``; its script
is in ``app_pages/`` (``pages.SCRIPTS`` says why not ``pages/``).
"""

import streamlit as st

from shiftlab.app.pages import PAGES

st.set_page_config(page_title="shiftlab", page_icon="🔬", layout="wide")
menu = [st.Page(page.script, title=page.menu_title, icon=page.icon, url_path=page.url_path, default=page.default)
        for page in PAGES]
st.navigation(menu).run()
