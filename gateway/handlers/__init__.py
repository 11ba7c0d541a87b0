"""S3 operation handlers, one module per operation family."""
