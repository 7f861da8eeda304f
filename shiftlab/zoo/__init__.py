"""The shipped zoo: measuring models into their cards (``evaluate``), the variants' targets, the tables built
from the cards."""
