"""Download buttons: a picture as PNG, a table as CSV (Streamlit).

Each button's key is made from its file name, so a page can hold several and
they keep their identity across reruns.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image


def png_download(picture: np.ndarray, file_name: str, label: str = "Download PNG") -> None:
    """A button that downloads the uint8 H×W×3 ``picture`` as a PNG."""
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    st.download_button(label, buffer.getvalue(), file_name=file_name, mime="image/png", on_click="ignore",
                       key=f"png-{file_name}")


def csv_download(frame: pd.DataFrame, file_name: str, label: str = "Download CSV") -> None:
    """A button that downloads ``frame`` as CSV."""
    st.download_button(label, frame.to_csv(index=False).encode(), file_name=file_name, mime="text/csv",
                       on_click="ignore", key=f"csv-{file_name}")
