"""Layer 6: the PDF brief (content gathered from a stored run, layout, charts, fonts, publishing); it only reads."""
