"""ol-lab's sandbox runtime, by job; worker/runtime/init.py is the entry."""
