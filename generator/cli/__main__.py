"""`python -m generator.cli`: what the test fixtures and the benchmark start the emulator with."""

from . import main

main()
