"""The Streamlit app's view code: what the pages in ``pages/`` call.

Everything here may import Streamlit, Altair and matplotlib; nothing outside
``shiftlab.app`` does. Page copy (method notes, metric help, captions) lives
in ``shiftlab.app.text``.
"""
