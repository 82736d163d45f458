"""The Dagster adapter layer: resources, factories, checks and sensors over the lakehouse API."""
