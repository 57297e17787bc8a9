"""The corpus: real third-party Go programs from Debian packages, traced, emitted and verified
end to end (``test_corpus.py``); ``python -m tests.corpus.table`` runs it and prints the README
table."""
