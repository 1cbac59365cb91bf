"""What people read: CSV/Excel exports for the evaluator and the HTML report for the programme manager."""
