"""Analytics: provider calls, performance metrics, rollups, reports, retention and archival."""
