"""Neural-network retraining (to be built): lineage, training, versions, run as jobs."""
