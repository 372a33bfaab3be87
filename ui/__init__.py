"""Server-rendered pages; the rich front end comes later."""
