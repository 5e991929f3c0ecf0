"""SPIN's extension machinery (SOSP'95 §3; spin-reference.md §1-2): the
dispatcher, domains, the name server, capabilities, the verifier and linker
for extensions, and Synthetix replugging."""
