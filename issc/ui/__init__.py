"""The dashboard's Streamlit side: the only library package that imports Streamlit.

* ``access`` — the process's service for the pages, or the configuration error on the page;
* ``history`` — cached history queries and the tables and charts made of them;
* ``preview`` — one picture analysed with a given tuning (the Tuning page);
* ``widgets`` — status lines, stream tiles, links, alerts, time zones;
* ``navigation`` — the page list of ``app.py``.
"""
