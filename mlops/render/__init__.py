"""What `mlops render` derives from mlops.yaml: ARM templates under infra/ (pure, no SDK)."""
