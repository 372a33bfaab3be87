"""The ``bench`` command's parts: where it measures (``databases``), how it talks to the
engine (``driver``), what it measures (``metrics``) and how it keeps to its time (``runner``)."""
