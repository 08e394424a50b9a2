"""`bn serve`: the interactive "what if" page and its JSON API, a thin face over the library.

`app.create_app` builds the Starlette application; `question` turns query parameters into the
CLI's evidence flags; `watch` keeps the model as it is on disk; `layout` places the nodes with
Graphviz; `static/` holds the page (plain HTML, CSS and JavaScript, nothing fetched from elsewhere).
"""
