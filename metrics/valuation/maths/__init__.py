"""Pure maths of the customer-based valuation: no ORM, numpy/SciPy only.

- `sbg`: the shifted-beta-geometric retention curve (Fader & Hardie 2007): fit from the survivor
  counts of one or several cohorts (right-censored), S(t), r(t), discounted expected lifetime.
- `cohorts`: the survivor counts of first-purchase cohorts from their first-lapse months.
- `projection`: the monthly new customers projected flat, on a log-linear trend or a logistic.
- `value`: the value of current and future customers, v_new by the curve, the elasticities.
"""
