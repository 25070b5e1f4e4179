"""ISSC dashboard entry point: ``streamlit run app.py`` (or ``make run``).

Imported by the ASGI server, this module builds the ``st.App`` with our extra routes (MJPEG,
JSON) and the engine's lifespan; executed by Streamlit as the main script, it draws the pages.
"""

import streamlit as st

if __name__ == "__main__":
    from issc.ui import run_dashboard

    run_dashboard()
else:
    from issc import server

    app = st.App(
        "app.py",
        routes=server.routes(),
        lifespan=server.lifespan,
        exception_handlers=server.exception_handlers,
    )
