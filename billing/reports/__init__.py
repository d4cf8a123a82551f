"""The agency's numbers: the admin dashboard's figures and charts, the reports (each
exportable as CSV) and the CSV helpers. Reads only: nothing here writes.

Whose calendar: every range and month here is the agency's, in the agency's time zone, so
one report covering clients in many zones has one set of days. The exceptions say so: a
retainer month and a budget-cap month are the client's own calendar month, as billing
counts them.
"""
