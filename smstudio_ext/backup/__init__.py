"""Home-directory backup to S3 and restore: snapshots, packs, chunks (issue 9)."""
