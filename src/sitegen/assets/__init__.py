"""Local files articles use (photos, documents): found, checked, processed and published under content-hashed names."""
