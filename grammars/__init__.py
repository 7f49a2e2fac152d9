"""Per-language data files (*.toml); this package only ships them in the wheel."""
