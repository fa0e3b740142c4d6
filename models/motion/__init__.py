"""Reference motions: format, playback, transformations, checks, preview and the shipped library."""
