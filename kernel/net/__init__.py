"""The network stack: Plexus's protocol graph of events on the Lance card
(SOSP'95 §5.3, Fig. 5; spin-reference.md §5)."""
