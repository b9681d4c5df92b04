//! Skeleton; the connector lands in the next commits.
