"""Machine learning: the text encoder now; features, scorer and re-ranker later. No web, no SQL."""
