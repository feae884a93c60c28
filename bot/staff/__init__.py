"""Staff tools: exports, dashboard and notifications."""
