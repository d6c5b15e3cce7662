"""Greenhouse-gas evidence of a rice season: its water regime (``water``) and its methane
by the IPCC 2019 Tier 1 method (``methane``). Pure modules, no database."""
