"""ISSC dashboard entry point: ``streamlit run app.py`` (or ``make run``).

Imported by the ASGI server, this module builds the ``st.App`` with our extra routes (MJPEG,
JSON) and the engine's lifespan; executed by Streamlit as the main script, it draws the pages.
"""

import streamlit as st

if __name__ == "__main__":
    from issc.ui.navigation import run_dashboard

    run_dashboard()
else:
    from streamlit.runtime.pages_manager import PagesManager

    from issc import server

    # Our pages live in pages/ but are declared with st.navigation. Streamlit only learns that
    # when a session first runs this script; until then it would serve a deep link such as
    # /plates as an old-style page without our navigation. st.navigation sets this same flag.
    PagesManager.uses_pages_directory = False

    app = st.App(
        "app.py",
        routes=server.routes(),
        # Guards every request and websocket, Streamlit's own included (issc.auth); AUTH=auto turns on
        # when the address Streamlit really binds (--server.address) reaches beyond loopback.
        middleware=server.middleware(st.get_option("server.address")),
        lifespan=server.lifespan,
        exception_handlers=server.exception_handlers,
    )
