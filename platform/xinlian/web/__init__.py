"""Server-rendered pages (Jinja2) for the four kinds of users."""
