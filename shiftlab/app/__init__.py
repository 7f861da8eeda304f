"""The Streamlit app's code: what the page scripts in ``app_pages/`` call.

``pages`` declares each page once (script, menu title, URL path, heading, introduction, tour stop);
the modules that draw (``pieces``, ``sidebar``, ``tour``, ``caches``,
``feedback``, ``downloads``, ``columns``, ``sweep_panel``) import Streamlit,
``launch`` starts it, and the rest compute and may import Altair and
matplotlib; nothing outside ``shiftlab.app`` imports any of them. Page copy
(method notes, metric help, captions) lives in ``shiftlab.app.text``.
"""
