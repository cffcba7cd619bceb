"""The server's pages for people: the front page, GraphiQL, the SPARQL editor and their vendored scripts."""
