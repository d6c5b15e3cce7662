"""agritrace: the command line that ties the record, the ingester and the demo together."""
