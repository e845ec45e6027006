"""Examples of using losskit's components from a TFX pipeline of one's own."""
