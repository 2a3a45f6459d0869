//! Python module of ishowtts (being written).
