"""Tests of the scripts: `just test-scripts`."""
