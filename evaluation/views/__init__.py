"""Views: indicator tables turned into reader tables and charts (labels, order, layout)."""
