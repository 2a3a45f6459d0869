//! C ABI of ishowtts (being written).
