"""Ingestion: corpus files -> chunks with exact offsets -> embeddings in Chroma."""
