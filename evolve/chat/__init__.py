"""Chatting with a reasoner: what one answer looks like as it forms (`turns`), the conversations that
persist (`store`), and the table of models a chat front end can talk to (`models`). The HTTP API, the
web chat and the terminal chat (`evolve.serve`) only render these."""
