"""The judge: reading answers, schema and stream rules, error bodies, and classify (observations in, verdict out)."""
