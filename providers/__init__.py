"""Providers: AI providers, their models and versioned prices, encrypted credentials,
budgets and AI preferences."""
