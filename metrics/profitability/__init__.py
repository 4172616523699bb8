"""Customer profitability: each customer's margin to date less the acquisition and retention
cost allocated to them (../shared/METRICS.md, "Customer profitability (per customer)")."""
