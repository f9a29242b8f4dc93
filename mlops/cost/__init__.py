"""Cost: the monthly cost drivers of the rendered platform and a rough estimate of them."""
